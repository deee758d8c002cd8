"""The `c360-maintenance` flow, run by `c360 maintain`: every table maintained in one run,
a per-table account printed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

from c360.cli import main
from c360.settings import load_settings
from catalog.factory import open_catalog
from catalog.maintenance import COMPACT, MAINTENANCE
from catalog.tables import raw
from catalog.writer import write
from tests.catalog.sample_data import crm_customer_rows

pytestmark = pytest.mark.integration  # a Prefect server


def test_c360_maintain_runs_the_flow_and_prints_what_it_did(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # so a developer's `.env` in the repo is not read
    monkeypatch.setenv("C360_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "80")  # a CI log: every figure must still show
    for name, value in {
        "SNAPSHOT_RETENTION_DAYS": "0",
        "KEEP_LAST_SNAPSHOTS": "2",
        "ORPHAN_GRACE_MINUTES": "0",
        "COMPACT_MIN_FILES": "3",
    }.items():
        monkeypatch.setenv(f"C360_MAINTENANCE__{name}", value)
    catalog = open_catalog(load_settings())
    for batch in range(4):
        rows = crm_customer_rows([f"c{batch}-{k}" for k in range(3)], batch_id=f"b{batch}")
        write(catalog, raw.CRM_CUSTOMERS, rows, batch_id=f"b{batch}", run_id="r")
    monkeypatch.setattr(sys, "argv", ["c360", "maintain"])

    with prefect_test_harness(), pytest.raises(SystemExit) as exit_code:
        main()

    assert exit_code.value.code == 0
    out = capsys.readouterr().out
    table = catalog.load_table(raw.CRM_CUSTOMERS.identifier_name)
    current = table.current_snapshot()
    assert current is not None
    assert current.summary is not None
    assert current.summary[MAINTENANCE] == COMPACT
    assert len(table.snapshots()) == 2
    assert table.scan().to_arrow().num_rows == 12
    (row,) = [line.split() for line in out.splitlines() if line.startswith("raw.")]
    # table, snapshots expired, kept, files deleted, MB freed, data files
    assert row[:4] + row[5:] == ["raw.crm_customers", "3", "2", "3", "4", "->", "1"]
    assert "1 of 1 tables changed" in out
