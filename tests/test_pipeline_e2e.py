"""The whole pipeline through the real CLI, checked from the outside with plain pyiceberg.

Each `c360 run` starts Prefect's temporary server in its own process, so this module takes
about a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
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

pytestmark = pytest.mark.slow

RUN_TIMEOUT_S = 300
ZONES = [("curated",), ("ops",), ("raw",), ("staging",)]
CUSTOMER_TABLES = ("raw.crm_customers", "staging.crm_customers", "curated.customers")
CLI_MAIN = "from c360.cli import main; main()"
RAW_TABLES = tuple(t.identifier_name for t in raw.TABLES)


@dataclass(frozen=True)
class Lakehouse:
    """A home the CLI ran the pipeline in, and the settings that read it back."""

    home: Path
    settings: Settings
    output: str  # what the first run printed

    def catalog(self) -> Catalog:
        # Only what any outside reader has: the properties `c360 catalog` prints.
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


def c360(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `c360` command on `home`, as a user's shell would."""
    script = Path(sys.executable).with_name("c360")
    command = [str(script)] if script.exists() else [sys.executable, "-c", CLI_MAIN]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "PREFECT_"))}
    # A narrow terminal, as in CI logs: one-line errors must not rely on a wide one.
    env |= {"C360_HOME": str(home), "COLUMNS": "80"}
    return subprocess.run(
        [*command, *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def _ran(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"c360 failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def lakehouse(tmp_path_factory: pytest.TempPathFactory) -> Lakehouse:
    """A home after one `c360 run --scale tiny`."""
    home = tmp_path_factory.mktemp("e2e")
    first = c360(home, "run", "--scale", "tiny")
    _ran(first)
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("C360_")]:
            patch.delenv(name)
        patch.chdir(home)
        settings = load_settings(home=home, scale="tiny")
    return Lakehouse(home, settings, first.stdout)


@pytest.fixture(scope="module")
def rerun(lakehouse: Lakehouse) -> tuple[dict[str, int], dict[str, int | None]]:
    """Run the pipeline a second time on the same home; what the tables held before."""
    counts = {name: lakehouse.rows(name).height for name in [*CUSTOMER_TABLES, *RAW_TABLES]}
    snapshots = lakehouse.snapshot_ids()
    _ran(c360(lakehouse.home, "run", "--scale", "tiny"))
    return counts, snapshots


def test_the_zone_namespaces_exist(lakehouse: Lakehouse) -> None:
    assert sorted(lakehouse.catalog().list_namespaces()) == ZONES


def test_every_zone_holds_every_emitted_customer_once(lakehouse: Lakehouse) -> None:
    truth = lakehouse.settings.sources_dir / "truth"
    emitted = read_manifest(truth).filter(pl.col("dataset") == "crm.customers")["rows"].item()
    truth_ids = sorted(read_records(truth).filter(pl.col("source") == "crm")["source_record_id"])

    assert emitted == len(truth_ids) > 0
    for name in CUSTOMER_TABLES:
        ids = lakehouse.rows(name)["customer_id"]
        assert ids.is_unique().all(), name
        assert sorted(ids) == truth_ids, name


def test_every_source_family_lands_what_was_emitted(lakehouse: Lakehouse) -> None:
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
    assert {k.split(".")[0].split("/")[0] for k in landed} >= {
        "crm",
        "orders",
        "clickstream",
        "loyalty",
        "marketing",
        "legacy",
        "products",
        "tickets",
    }


def test_curated_values_are_the_sources_values_normalised(lakehouse: Lakehouse) -> None:
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


def test_ops_records_the_run_and_its_writes(lakehouse: Lakehouse) -> None:
    runs = lakehouse.rows("ops.pipeline_runs")
    writes = lakehouse.rows("ops.table_writes")
    first_run = runs.sort("started_at")["run_id"][0]
    first_writes = writes.filter(pl.col("run_id") == first_run)
    emitted = crm_rows(lakehouse.settings).height

    assert runs.filter(pl.col("run_id") == first_run).select(
        "profile", "scale", "seed", "status"
    ).row(0) == ("local", "tiny", 42, "completed")
    written = dict(zip(first_writes["table_name"], first_writes["rows_written"], strict=True))
    assert {name: written.get(name) for name in CUSTOMER_TABLES} == (
        dict.fromkeys(CUSTOMER_TABLES, emitted)
    )


def test_a_second_run_adds_no_rows(
    lakehouse: Lakehouse, rerun: tuple[dict[str, int], dict[str, int | None]]
) -> None:
    counts, snapshots = rerun

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


def test_another_seed_on_the_same_home_is_one_clear_error(lakehouse: Lakehouse) -> None:
    runs_before = lakehouse.rows("ops.pipeline_runs").height

    result = c360(lakehouse.home, "run", "--scale", "tiny", "--seed", "7")

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    # One line, even on an 80-column terminal: the whole message and the way out.
    assert "seed 42 at scale tiny" in errors[0]
    assert errors[0].endswith("to start a new world")
    assert "Traceback" not in result.stderr + result.stdout
    assert lakehouse.rows("ops.pipeline_runs").height == runs_before


def test_every_feed_meets_its_data_quality_slos_on_a_clean_run(lakehouse: Lakehouse) -> None:
    results = lakehouse.rows("ops.dq_results")
    first_run = lakehouse.rows("ops.pipeline_runs").sort("started_at")["run_id"][0]
    first = results.filter(pl.col("run_id") == first_run)

    assert first.height == 11 * 5  # every feed with a contract, the seed's five SLOs
    measured = first.filter(pl.col("passed").is_not_null())
    assert measured.filter(~pl.col("passed")).select("feed", "metric", "detail").rows() == []
    assert set(measured["metric"]) == {
        "completeness",
        "uniqueness",
        "accuracy",
        "timeliness",
        "schema_drift",
    }
    # Staging kept its books: every raw row staged or quarantined, batch by batch.
    books = lakehouse.rows("ops.staging_batches")
    assert (books["raw_rows"] == books["staged_rows"] + books["quarantined_rows"]).all()
    assert books["feed"].n_unique() == 11


def test_every_identified_record_resolves_to_one_customer_measured_against_the_truth(
    lakehouse: Lakehouse, rerun: tuple[dict[str, int], dict[str, int | None]]
) -> None:
    xref = lakehouse.rows("staging.customer_xref")
    golden = lakehouse.rows("staging.customer_golden")
    truth = read_records(lakehouse.settings.sources_dir / "truth")
    metrics = lakehouse.rows("ops.identity_metrics")

    assert xref.select("source", "source_record_id").is_duplicated().sum() == 0
    # Every resolved record is one the simulator emitted, under the same source label.
    assert xref.join(truth, on=["source", "source_record_id"], how="anti").height == 0
    assert sorted(golden["customer_key"]) == sorted(xref["customer_key"].unique())
    # Measured once (the second run had nothing new to resolve), and it meets the goal.
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


# Advances the world: keep it the module's last test.
def test_days_run_the_pipeline_once_per_new_day_with_each_runs_time(
    lakehouse: Lakehouse, rerun: tuple[dict[str, int], dict[str, int | None]]
) -> None:
    runs_before = lakehouse.rows("ops.pipeline_runs").height

    advanced = c360(lakehouse.home, "run", "--scale", "tiny", "--days", "2")

    _ran(advanced)
    runs = lakehouse.rows("ops.pipeline_runs").sort("started_at")
    assert runs.height == runs_before + 2
    new_runs = runs["run_id"].tail(2).to_list()
    for run_id, day in zip(new_runs, (1, 2), strict=True):
        assert f"run {run_id}: day {day} in " in advanced.stdout
    assert "runs, one per simulated day" in advanced.stdout
    # Each day's CRM changes reached the curated zone: staging and curated agree again.
    staged = lakehouse.rows("staging.crm_customers")
    assert lakehouse.rows("curated.customers").height == staged.height
    assert read_manifest(lakehouse.settings.sources_dir / "truth")["day"].max() == 2
    # `c360 runs` lists them, newest first.
    listed = c360(lakehouse.home, "runs", "--limit", "2")
    _ran(listed)
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == new_runs[::-1]
    assert all(" completed " in line for line in lines[1:])
