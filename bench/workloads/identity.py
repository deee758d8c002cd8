"""Identity resolution vs the email-only baseline, timed and scored against the truth, on a
`small` world (`identity_medium`, `identity_large`: a `medium`, a `large` one).

Before any clock starts, the staging workload's world (two days, ingested into raw) is
staged with Polars and its identity tables are read once into identity records. Each timed
run then resolves every record from scratch:
- `email_only` (baseline): records sharing a normalised email are one person;
- `c360`: `resolve_identities` with no prior xref (attachment, exact rules, Splink,
  clustering, keys, golden records): what `flows/resolve.py` computes on a first run,
  without its reads and writes.
`rows` is the records resolved, the same for both. Each variant's accuracy is measured once,
untimed, before the timed runs (the resolution is deterministic): pairwise precision,
recall and F1 against the simulator's truth, in percent, overall (`all_p%`, `all_r%`,
`all_f1%`) and per source (`crm_p%`, ...). Both are scored on every record, as the
`all_records` row of `resolution_metrics` is: a record c360 finds no identity for
(`unresolved`) is a person of its own, as the baseline's records without an email are, and
an anonymous device's events (`anonymous`) are one person. The `id_` figures score both on
the records c360 identifies (the scope of `ops.identity_metrics`' goal): the same records
for both. `persons` is the clusters found.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from bench.runner import Outcome, Step, Variant, Workload, WorkloadContext
from bench.workloads.staging import simulated_lakehouse
from c360.settings import Scale, Settings
from catalog.contracts import load_contracts
from catalog.factory import open_catalog
from catalog.reader import read_rows
from flows.resolve import STAGING_DEFS
from flows.stage import STAGED, stage_table
from simulator.truth import read_records
from transforms.identity.baseline import email_only
from transforms.identity.metrics import RECORD_KEY, pairwise_metrics, with_singletons
from transforms.identity.profiles import ANONYMOUS_DEVICE
from transforms.identity.records import STAGING_COLUMNS, STAGING_TABLES, identity_records
from transforms.identity.resolve import XREF_SCHEMA, resolve_identities

BASELINE = "email_only"
NO_PRIOR = pl.DataFrame(schema={c: XREF_SCHEMA[c] for c in (*RECORD_KEY, "customer_key")})

Resolver = Callable[[pl.DataFrame], pl.DataFrame]
"""Identity records -> `source`, `source_record_id`, `customer_key` of each record resolved
(and its `match_rule`, where the resolver names one)."""


def c360(records: pl.DataFrame) -> pl.DataFrame:
    """c360's resolution of `records` from scratch: the xref of a first run."""
    return resolve_identities(records, NO_PRIOR, next_key=1).xref


RESOLVERS: dict[str, Resolver] = {BASELINE: email_only, "c360": c360}


def staged_records(settings: Settings) -> pl.DataFrame:
    """Stage the identity sources of `settings`' lakehouse with Polars; their records."""
    catalog = open_catalog(settings)
    contracts = load_contracts()
    for staged in STAGED.values():
        if staged.target.name in STAGING_TABLES.values():
            stage_table(catalog, staged, contracts[staged.feed], engine="polars", run_id="bench")
    return identity_records(
        {
            name: read_rows(catalog, STAGING_DEFS[name], columns=STAGING_COLUMNS[name])
            for name in STAGING_TABLES.values()
        }
    )


def accuracy(
    records: pl.DataFrame, keys: pl.DataFrame, truth: pl.DataFrame, identified: pl.DataFrame
) -> dict[str, float]:
    """`persons`, `unresolved`, `anonymous` and pairwise precision, recall and F1 (%) of `keys`.

    Every record of `records` is scored: one missing from `keys` (no identity found) is a
    person of its own. The `id_` figures score only the `identified` records (those c360
    ties to someone: neither anonymous visitors nor without identity), as
    `ops.identity_metrics`' per-source and `all` rows do.
    """
    anonymous = (
        keys.filter(pl.col("match_rule") == ANONYMOUS_DEVICE).height
        if "match_rule" in keys.columns
        else 0
    )
    alone = records.select(RECORD_KEY).join(keys, on=RECORD_KEY, how="anti")
    every = with_singletons(keys, alone)
    scored = {
        "persons": float(every["customer_key"].n_unique()),
        "unresolved": float(alone.height),
        "anonymous": float(anonymous),
    }
    known = every.join(identified, on=RECORD_KEY, how="semi")
    for prefix, scope in (("", every), ("id_", known)):
        for row in pairwise_metrics(scope, truth).iter_rows(named=True):
            for metric, short in (("precision", "p"), ("recall", "r"), ("f1", "f1")):
                scored[f"{prefix}{row['scope']}_{short}%"] = 100 * row[metric]
    return scored


def _variant(
    name: str, resolve: Resolver, records: pl.DataFrame, scored: dict[str, float]
) -> Variant:

    def prepare() -> Step:
        def step() -> Outcome:
            resolve(records)
            return Outcome(records.height, scored)

        return step

    return Variant(name, prepare)


def workload(scale: Scale) -> Workload:
    """c360's identity resolution vs the email-only baseline on a world of `scale`."""

    def variants(context: WorkloadContext) -> list[Variant]:
        settings = simulated_lakehouse(scale, context)
        records = staged_records(settings)
        truth = read_records(settings.sources_dir / "truth")
        resolved = {name: resolve(records) for name, resolve in RESOLVERS.items()}
        identified = (
            resolved["c360"].filter(pl.col("match_rule") != ANONYMOUS_DEVICE).select(RECORD_KEY)
        )
        return [
            _variant(name, resolve, records, accuracy(records, resolved[name], truth, identified))
            for name, resolve in RESOLVERS.items()
        ]

    suffix = "" if scale is Scale.SMALL else f"_{scale.value}"
    return Workload(
        name=f"identity{suffix}",
        doc=f"identity resolution of a {scale.value} world (2 days): c360 vs email only",
        baseline=BASELINE,
        default_rows=1,
        variants=variants,
    )


WORKLOAD = workload(Scale.SMALL)
