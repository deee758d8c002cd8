"""One run's data quality: every SLO of every feed measured, recorded in `ops.dq_results`
and summed up as a table; `quality_task` does all three in a flow."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog
from rich.table import Table as RichTable
from rich.text import Text

from c360.settings import Settings
from catalog.contracts import load_contracts
from catalog.factory import open_catalog
from catalog.tables import ops
from catalog.writer import WriteResult, content_batch_id, write
from flows.quality.accuracy import accuracy
from flows.quality.completeness import completeness
from flows.quality.results import METRICS, SCHEMA_DRIFT, DqResult
from flows.quality.running import recorded_running, running_property
from flows.quality.schema_drift import schema_drift
from flows.quality.sources import Sources
from flows.quality.tables import UTC_US, Lakehouse
from flows.quality.timeliness import timeliness
from flows.quality.uniqueness import uniqueness


def measure(
    catalog: Catalog,
    settings: Settings,
    *,
    run_id: str,
    feeds: Sequence[str] | None = None,
    full: bool = False,
) -> list[DqResult]:
    """Every SLO of `feeds` (raw table names; default: every feed with a contract).

    Figures over a whole table are carried on from the running measures the last recorded
    run left, reading only what is new since (`flows.quality.running`); `full` computes
    them from every row instead. Both give the same results.

    Raises:
        SourceUnavailableError: a source database does not answer.
    """
    contracts = load_contracts(settings.contracts_dir)
    sources = Sources(settings)
    lake = Lakehouse(catalog, {} if full else recorded_running(catalog))
    results = []
    try:
        for feed in feeds if feeds is not None else list(contracts):
            contract = contracts.get(feed)
            results += [
                completeness(lake, sources, feed, contract),
                uniqueness(lake, feed),
                accuracy(lake, sources, feed),
                timeliness(lake, sources, feed, contract, run_id=run_id),
                schema_drift(lake, feed),
            ]
    finally:
        sources.close()
    return results


def write_results(
    catalog: Catalog,
    results: Sequence[DqResult],
    *,
    run_id: str,
    measured_at: datetime | None = None,
) -> WriteResult:
    """Record one run's results in `ops.dq_results`, their running measures in its snapshot
    summary: one commit, once per run id."""
    rows = pl.DataFrame(
        {
            "run_id": run_id,
            "feed": [r.feed for r in results],
            "metric": [r.metric for r in results],
            "value": [r.value for r in results],
            "threshold": [r.threshold for r in results],
            "passed": [r.passed for r in results],
            "detail": [r.detail for r in results],
            "measured_at": measured_at or datetime.now(UTC),
        },
        schema_overrides={"value": pl.Float64, "passed": pl.Boolean, "measured_at": UTC_US},
    )
    batch_id = content_batch_id(ops.DQ_RESULTS.identifier_name, run_id)
    return write(
        catalog,
        ops.DQ_RESULTS,
        rows,
        batch_id=batch_id,
        run_id=run_id,
        properties=running_property(results),
    )


def format_results(results: Sequence[DqResult]) -> RichTable:
    """The run summary: a row per feed, a column per metric, each value with its verdict."""
    table = RichTable(title="data quality", title_justify="left")
    table.add_column("feed")
    for metric in METRICS:
        table.add_column(metric.replace("_", " "), justify="right")
    cells = {(r.feed, r.metric): r for r in results}
    for feed in dict.fromkeys(r.feed for r in results):
        table.add_row(feed, *(_cell(cells.get((feed, m))) for m in METRICS))
    return table


def _cell(result: DqResult | None) -> Text:
    if result is None or result.value is None or result.passed is None:
        return Text("n/a", style="dim")
    value = f"{result.value:g}" if result.metric == SCHEMA_DRIFT else f"{result.value:.2f}%"
    verdict, style = ("PASS", "green") if result.passed else ("FAIL", "bold red")
    return Text(f"{value} {verdict}", style=style)


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE, task_run_name="quality")
def quality_task(settings: Settings, run_id: str) -> list[DqResult]:
    """Measure every feed's SLOs and record them in `ops.dq_results` (once per run id)."""
    catalog = open_catalog(settings)
    results = measure(catalog, settings, run_id=run_id)
    write_results(catalog, results, run_id=run_id)
    failed = [f"{r.feed} {r.metric} ({r.detail})" for r in results if r.passed is False]
    logger = get_run_logger()
    for failure in failed:
        logger.warning("SLO missed: %s", failure)
    logger.info(
        "%d SLOs measured, %d missed", sum(r.passed is not None for r in results), len(failed)
    )
    return results
