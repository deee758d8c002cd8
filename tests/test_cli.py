"""The `c360` command line, through its entry point (`c360 = c360.cli:main`): what
`c360 simulate` prints and leaves behind, and the one-line errors a user can meet."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from c360.cli import main
from c360.settings import FAULTS, load_settings
from catalog.alerts import RESOLVED, open_alerts
from catalog.contracts.drift import SCHEMA_DRIFT, pause_if_drifted
from catalog.factory import open_catalog
from catalog.tables import ops
from catalog.writer import write
from simulator.sources import crm
from simulator.truth import read_manifest
from simulator.world import STATE_FILE
from tests.flows.crm_source import write_customer_contract_v2

CONTRACTS = Path(__file__).parents[1] / "catalog" / "contracts"

EMITTED_LINE = re.compile(r"^  (?P<source>\S+): (?P<rows>[\d,]+) rows$")


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def c360(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Ran]:
    """Run `c360 <args>` on the test's home as a user's shell would, in this process."""
    monkeypatch.setenv("C360_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "80")  # a narrow terminal: errors must still be one line
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Ran:
        capsys.readouterr()
        environ = dict(os.environ)
        monkeypatch.setattr(sys, "argv", ["c360", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            # The CLI points Prefect at the home through the environment: keep it to this run.
            os.environ.clear()
            os.environ.update(environ)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def _emitted(out: str) -> dict[str, int]:
    lines = (EMITTED_LINE.match(line) for line in out.splitlines())
    return {m["source"]: int(m["rows"].replace(",", "")) for m in lines if m}


def _one_error_line(ran: Ran) -> str:
    assert ran.code == 1, ran
    errors = [line for line in ran.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, ran.err
    assert ran.err.strip() == errors[0]
    assert "Traceback" not in ran.err + ran.out
    return errors[0]


def test_simulate_days_prints_what_it_emitted(c360: Callable[..., Ran], tmp_path: Path) -> None:
    ran = c360("simulate", "--days", "2", "--scale", "tiny")

    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[:3] == [f"simulating day {day} ..." for day in range(3)]
    assert lines[-1] == f"world at day 2; truth in {tmp_path / 'sources' / 'truth'}"
    # One line per source family, with the rows the manifest recorded over the three days.
    manifest = read_manifest(tmp_path / "sources" / "truth")
    totals = manifest.group_by("source").agg(pl.col("rows").sum())
    assert _emitted(ran.out) == dict(zip(totals["source"], totals["rows"], strict=True))
    assert _emitted(ran.out)[crm.NAME] > 0
    assert sorted(manifest["day"].unique()) == [0, 1, 2]
    state = json.loads((tmp_path / "sources" / STATE_FILE).read_text())
    assert state == {"seed": 42, "scale": "tiny", "people": 1_000, "day": 2}


def test_simulate_again_without_days_does_nothing(c360: Callable[..., Ran], tmp_path: Path) -> None:
    c360("simulate", "--days", "1", "--scale", "tiny")
    manifest = read_manifest(tmp_path / "sources" / "truth")

    again = c360("simulate", "--scale", "tiny")

    assert again.code == 0, again.err
    assert "day 1 already emitted: nothing to do (use --days N)" in again.out.splitlines()
    assert _emitted(again.out) == {}
    assert read_manifest(tmp_path / "sources" / "truth").equals(manifest)


def test_simulate_injects_a_fault_on_the_fault_day(
    c360: Callable[..., Ran], tmp_path: Path
) -> None:
    ran = c360(
        "simulate", "--days", "1", "--scale", "tiny", "--faults", "schema_drift", "--fault-day", "1"
    )

    assert ran.code == 0, ran.err
    settings = load_settings(home=tmp_path, scale="tiny")
    url = settings.resolved_sources().crm_url
    assert url
    engine = sa.create_engine(url)
    try:
        columns = [c["name"] for c in sa.inspect(engine).get_columns(crm.CUSTOMERS.name)]
    finally:
        engine.dispose()
    assert columns == [*crm.COLUMNS, crm.DRIFT_COLUMN]


def test_an_unknown_fault_is_one_clear_line(c360: Callable[..., Ran], tmp_path: Path) -> None:
    ran = c360("simulate", "--days", "1", "--scale", "tiny", "--faults", "clock_skew, bogus")

    error = _one_error_line(ran)
    assert error == f"error: unknown fault(s) bogus; choose from {', '.join(FAULTS)}"
    assert not (tmp_path / "sources").exists()


def test_another_seed_on_a_simulated_home_is_one_clear_line(
    c360: Callable[..., Ran], tmp_path: Path
) -> None:
    c360("simulate", "--scale", "tiny")

    ran = c360("simulate", "--days", "1", "--scale", "tiny", "--seed", "7")

    error = _one_error_line(ran)
    assert "seed 42 at scale tiny" in error
    assert error.endswith("`c360 reset` to start a new world")
    state = json.loads((tmp_path / "sources" / STATE_FILE).read_text())
    assert state["day"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("ingest", "crm"),
            "unknown source family 'crm'; choose from all, db, stream, files, tickets",
        ),
        (("ingest", "db", "--follow"), "--follow applies to the stream only"),
    ],
)
def test_ingest_refuses_a_bad_family_in_one_line(
    c360: Callable[..., Ran], args: tuple[str, ...], message: str
) -> None:
    ran = c360(*args)

    assert ran.code == 1
    assert ran.err.count("\n") == 1
    assert ran.err.startswith(f"error: {message}")


def test_contracts_list_shows_every_feed_running(c360: Callable[..., Ran]) -> None:
    ran = c360("contracts", "list")

    assert ran.code == 0
    rows = [line for line in ran.out.splitlines() if "customer360_" in line]
    assert len(rows) == 11
    assert all("running" in row for row in rows)
    assert any(row.split()[1] == "crm_customers" for row in rows)


def test_contracts_accept_without_drift_says_the_feed_runs(c360: Callable[..., Ran]) -> None:
    ran = c360("contracts", "accept", "crm_customers")

    assert ran.code == 0
    assert "crm_customers has no schema change to accept: it is running" in ran.out


def test_contracts_accept_resumes_a_drifted_feed_and_routes_its_resolved_alert(
    c360: Callable[..., Ran], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts_dir = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, contracts_dir, ignore=shutil.ignore_patterns("*.py", "__*"))
    write_customer_contract_v2(contracts_dir)
    monkeypatch.setenv("C360_CONTRACTS_DIR", str(contracts_dir))
    settings = load_settings()
    catalog = open_catalog(settings)
    change = pl.DataFrame(
        {
            "table_name": ["raw.crm_customers"],
            "column_name": "loyalty_tier",
            "change": "added",
            "detected_at": datetime.now(UTC),
            "batch_id": "b1",
        }
    )
    write(catalog, ops.SCHEMA_CHANGES, change, batch_id="drift", run_id="test")
    assert pause_if_drifted(catalog, "crm_customers", run_id="run-1")  # raises the alert

    ran = c360("contracts", "accept", "crm_customers")

    assert ran.code == 0
    assert "crm_customers resumed under customer360_customer_v2" in ran.out
    assert open_alerts(catalog, SCHEMA_DRIFT).is_empty()
    routed = [json.loads(line) for line in settings.alerts_jsonl.read_text().splitlines()]
    assert [(d["status"], d["rule"], d["subject"]) for d in routed] == [
        (RESOLVED, SCHEMA_DRIFT, "crm_customers")
    ]


def test_contracts_accept_refuses_an_unknown_feed_in_one_line(c360: Callable[..., Ran]) -> None:
    ran = c360("contracts", "accept", "crm")

    error = _one_error_line(ran)
    assert error.startswith("error: no contract for feed 'crm'; feeds: clickstream_events, ")
