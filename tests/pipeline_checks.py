"""The checks every finished pipeline run passes, whatever profile it ran on: the embedded
default (test_pipeline_e2e.py) and the `stack` and `cloud` profiles on real servers
(test_stack_profile.py). Each reads the lakehouse the way an outside reader would and
reconciles it with the simulator's ground truth."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import polars as pl
import pytest
from pyiceberg.catalog import Catalog, load_catalog

from c360.settings import Settings, load_settings
from catalog.factory import catalog_properties
from catalog.tables import raw
from simulator.truth import read_manifest, read_records
from tests.flows.crm_source import crm_rows
from transforms.polars import normalise

RUN_TIMEOUT_S = 300
ZONES = [("curated",), ("ops",), ("raw",), ("staging",)]
CUSTOMER_TABLES = ("raw.crm_customers", "staging.crm_customers", "curated.customers")
CLI_MAIN = "from c360.cli import main; main()"
RAW_TABLES = tuple(t.identifier_name for t in raw.TABLES)
SOURCE_FAMILIES = {
    "crm",
    "orders",
    "clickstream",
    "loyalty",
    "marketing",
    "legacy",
    "products",
    "tickets",
}
FEEDS_WITH_CONTRACTS = 11
SLOS = {"completeness", "uniqueness", "accuracy", "timeliness", "schema_drift"}


@dataclass(frozen=True)
class Lakehouse:
    """A home the CLI ran the pipeline in, and the settings that read it back."""

    home: Path
    settings: Settings
    output: str  # what the first run printed
    env: dict[str, str]  # what every `c360` call on this home adds (Prefect server, profile)

    def first_run_id(self) -> str:
        return str(self.rows("ops.pipeline_runs").sort("started_at")["run_id"][0])

    def catalog(self) -> Catalog:
        return self._catalog

    @cached_property
    def _catalog(self) -> Catalog:
        # Only what any outside reader has: the properties `c360 catalog` prints. Opened
        # once: on a server catalog each opening costs requests.
        return load_catalog("c360", **catalog_properties(self.settings.resolved_catalog()))

    def rows(self, table: str) -> pl.DataFrame:
        frame = pl.from_arrow(self.catalog().load_table(table).scan().to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def snapshot_ids(self) -> dict[str, int | None]:
        catalog = self.catalog()
        ids = {}
        for name in [*CUSTOMER_TABLES, *RAW_TABLES]:
            snapshot = catalog.load_table(name).current_snapshot()
            ids[name] = snapshot.snapshot_id if snapshot else None
        return ids


def c360(
    home: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `c360` command on `home`, as a user's shell would, with `env`
    added to a shell without `C360_*` and `PREFECT_*` variables."""
    script = Path(sys.executable).with_name("c360")
    command = [str(script)] if script.exists() else [sys.executable, "-c", CLI_MAIN]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "PREFECT_"))}
    # A narrow terminal, as in CI logs: one-line errors must not rely on a wide one.
    env = clean | {"C360_HOME": str(home), "COLUMNS": "80", **(env or {})}
    return subprocess.run(
        [*command, *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def ran(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"c360 failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def run_tiny(home: Path, *args: str, env: dict[str, str]) -> Lakehouse:
    """`c360 run --scale tiny <args>` on `home`, and the lakehouse it left, read back with the
    settings a shell without `C360_*` variables gets in `home`."""
    result = c360(home, "run", "--scale", "tiny", *args, env=env)
    ran(result)
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("C360_")]:
            patch.delenv(name)
        patch.chdir(home)
        settings = load_settings(home=home, scale="tiny")
    return Lakehouse(home, settings, result.stdout, env)


def check_the_zone_namespaces_exist(lakehouse: Lakehouse) -> None:
    assert sorted(lakehouse.catalog().list_namespaces()) == ZONES


def check_every_zone_holds_every_emitted_customer_once(lakehouse: Lakehouse) -> None:
    truth = lakehouse.settings.sources_dir / "truth"
    emitted = read_manifest(truth).filter(pl.col("dataset") == "crm.customers")["rows"].item()
    truth_ids = sorted(read_records(truth).filter(pl.col("source") == "crm")["source_record_id"])

    assert emitted == len(truth_ids) > 0
    for name in CUSTOMER_TABLES:
        ids = lakehouse.rows(name)["customer_id"]
        assert ids.is_unique().all(), name
        assert sorted(ids) == truth_ids, name


def check_every_source_family_lands_what_was_emitted(lakehouse: Lakehouse) -> None:
    manifest = read_manifest(lakehouse.settings.sources_dir / "truth").filter(pl.col("day") == 0)
    emitted = dict(zip(manifest["dataset"], manifest["rows"], strict=True))
    landed: dict[str, int] = {}
    for name in RAW_TABLES:
        rows = lakehouse.rows(name)
        if "_source_file" in rows.columns and rows["_source_file"].is_not_null().all():
            counts = rows.group_by("_source_file").len()
            landed |= dict(zip(counts["_source_file"], counts["len"], strict=True))
        elif name == "raw.clickstream_events":
            landed["clickstream.events"] = rows.height
        else:
            counts = rows.group_by("_source").len()
            landed |= dict(zip(counts["_source"], counts["len"], strict=True))

    # Every database table, the stream (duplicates included) and every file and ticket drop.
    expected = {k: v for k, v in emitted.items() if k != "clickstream.distinct_events"}
    assert landed == expected
    assert {k.split(".")[0].split("/")[0] for k in landed} >= SOURCE_FAMILIES


def check_curated_values_are_the_sources_values_normalised(lakehouse: Lakehouse) -> None:
    source = (
        crm_rows(lakehouse.settings)
        .with_columns(
            normalise.name("first_name"),
            normalise.name("last_name"),
            normalise.email("email"),
            normalise.phone_e164("phone"),
        )
        .select(
            "customer_id",
            full_name=pl.concat_str("first_name", "last_name", separator=" ").str.strip_chars(),
            email="email",
            phone="phone",
            lifetime_value="lifetime_value",
            is_active="is_active",
        )
        .sort("customer_id")
    )
    curated = lakehouse.rows("curated.customers").select(source.columns).sort("customer_id")

    assert curated.equals(source)
    # The CRM's stray capitals and spaces did reach the source, and were cleaned.
    assert (crm_rows(lakehouse.settings)["email"].str.contains(r"^ |[A-Z]")).any()


def check_ops_records_the_run_and_its_writes(lakehouse: Lakehouse) -> None:
    runs = lakehouse.rows("ops.pipeline_runs")
    writes = lakehouse.rows("ops.table_writes")
    first_run = runs.sort("started_at")["run_id"][0]
    first_writes = writes.filter(pl.col("run_id") == first_run)
    emitted = crm_rows(lakehouse.settings).height
    settings = lakehouse.settings

    assert runs.filter(pl.col("run_id") == first_run).select(
        "profile", "scale", "seed", "status"
    ).row(0) == (settings.profile.value, settings.scale.value, settings.seed, "completed")
    written = dict(zip(first_writes["table_name"], first_writes["rows_written"], strict=True))
    assert {name: written.get(name) for name in CUSTOMER_TABLES} == (
        dict.fromkeys(CUSTOMER_TABLES, emitted)
    )


def check_every_feed_meets_its_data_quality_slos(lakehouse: Lakehouse) -> None:
    """On a clean run (no faults): every SLO measured passes, and staging kept its books."""
    results = lakehouse.rows("ops.dq_results")
    first = results.filter(pl.col("run_id") == lakehouse.first_run_id())

    assert first.height == FEEDS_WITH_CONTRACTS * len(SLOS)
    measured = first.filter(pl.col("passed").is_not_null())
    assert measured.filter(~pl.col("passed")).select("feed", "metric", "detail").rows() == []
    assert set(measured["metric"]) == SLOS
    # Every raw row staged or quarantined, batch by batch.
    books = lakehouse.rows("ops.staging_batches")
    assert (books["raw_rows"] == books["staged_rows"] + books["quarantined_rows"]).all()
    assert books["feed"].n_unique() == FEEDS_WITH_CONTRACTS


def check_every_identified_record_resolves_to_one_customer(lakehouse: Lakehouse) -> None:
    """Identity resolution, measured against the simulator's truth, meets its goal."""
    xref = lakehouse.rows("staging.customer_xref")
    golden = lakehouse.rows("staging.customer_golden")
    truth = read_records(lakehouse.settings.sources_dir / "truth")
    metrics = lakehouse.rows("ops.identity_metrics")

    assert xref.select("source", "source_record_id").is_duplicated().sum() == 0
    # Every resolved record is one the simulator emitted, under the same source label.
    assert xref.join(truth, on=["source", "source_record_id"], how="anti").height == 0
    assert sorted(golden["customer_key"]) == sorted(xref["customer_key"].unique())
    # Measured once (a run with nothing new to resolve measures nothing), meeting the goal.
    overall = metrics.filter(pl.col("scope") == "all")
    assert overall.height == 1
    assert overall["precision"].item() >= 0.99
    assert overall["f1"].item() >= 0.98
    # `all` scores the identified records; `all_records` those plus the ones left out.
    identified = xref.filter(pl.col("match_rule") != "anonymous_device").height
    everything = metrics.filter(pl.col("scope") == "all_records")
    assert overall["records"].item() == identified
    assert everything["records"].item() == identified + overall["unresolved"].item()
    assert "identity resolution vs the simulator's truth" in lakehouse.output


def check_a_second_run_adds_no_rows(
    lakehouse: Lakehouse, counts: dict[str, int], snapshots: dict[str, int | None]
) -> None:
    """After a second run on unchanged sources: the `counts` and `snapshots` the customer
    and raw tables had before it, and two completed runs of which only the first wrote."""
    assert {name: lakehouse.rows(name).height for name in counts} == counts
    # Nothing changed in the sources, so no customer or raw table got a new commit either.
    assert lakehouse.snapshot_ids() == snapshots
    for name in ("staging.crm_customers", "curated.customers"):
        assert lakehouse.rows(name)["customer_id"].is_unique().all(), name
    runs = lakehouse.rows("ops.pipeline_runs")
    assert runs.height == 2
    assert runs["run_id"].n_unique() == 2
    assert runs["status"].to_list() == ["completed", "completed"]
    # Every commit recorded is the first run's: the second one committed nothing.
    first_run = runs.sort("started_at")["run_id"][0]
    assert lakehouse.rows("ops.table_writes")["run_id"].unique().to_list() == [first_run]


# The checks of one run, in the order a reader would go through the lakehouse.
CHECKS_OF_A_RUN = (
    check_the_zone_namespaces_exist,
    check_every_zone_holds_every_emitted_customer_once,
    check_every_source_family_lands_what_was_emitted,
    check_curated_values_are_the_sources_values_normalised,
    check_ops_records_the_run_and_its_writes,
    check_every_feed_meets_its_data_quality_slos,
    check_every_identified_record_resolves_to_one_customer,
)
