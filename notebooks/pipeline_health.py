"""Pipeline health: data-quality SLOs over runs, quarantine reasons, freshness per source,
identity resolution precision and recall over runs, table sizes with their snapshot and
file counts, and the alerts still open. The same figures as `c360 report`
(`flows/observe/health.py`), to dig into.

Open with `just notebook pipeline_health`; it reads the lakehouse of the usual settings.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo
    import polars as pl

    from c360.settings import load_settings
    from catalog.factory import open_catalog
    from flows.observe import health, report
    from simulator.world import read_published

    return health, load_settings, mo, open_catalog, pl, read_published, report


@app.cell
def _(health, load_settings, mo, open_catalog):
    settings = load_settings()
    catalog = open_catalog(settings)
    runs = health.runs(catalog)
    mo.vstack([mo.md(f"## {runs.height} runs recorded in `{settings.home}`"), runs])
    return catalog, settings


@app.cell
def _(catalog, health, mo, read_published, report, settings):
    compliance = health.slo_compliance(catalog, read_published(settings))
    mo.vstack(
        [
            mo.md("## SLO compliance per latency tier"),
            report.compliance_chart(compliance).figure,
            compliance,
        ]
    )
    return


@app.cell
def _(catalog, health, mo, pl, report):
    trend = health.dq_trend(catalog)
    missed = (
        health.runs(catalog)
        .join(
            pl.from_arrow(
                catalog.load_table("ops.dq_results").scan(row_filter="passed = false").to_arrow()
            ),
            on="run_id",
        )
        .select("world_day", "feed", "metric", "value", "threshold", "detail")
    )
    mo.vstack(
        [
            mo.md("## Data-quality SLOs over runs"),
            report.dq_chart(trend).figure,
            mo.md(f"SLOs missed: {missed.height}"),
            missed,
        ]
    )
    return


@app.cell
def _(catalog, health, mo):
    reasons = health.quarantine_reasons(catalog)
    held = reasons["rows"].sum() if reasons.height else 0
    mo.vstack(
        [
            mo.md(f"## Quarantine reasons ({held:,} rows held or alerted)"),
            reasons,
        ]
    )
    return


@app.cell
def _(catalog, health, mo, report):
    latest = health.latest_freshness(catalog)
    mo.vstack(
        [
            mo.md("## Freshness per source (newest run)"),
            report.freshness_chart(latest).figure,
            latest.select(
                "feed", "tier", "sla_minutes", "newest_at", "freshness_lag_s", "replication_lag_s"
            ),
        ]
    )
    return


@app.cell
def _(catalog, health, mo, pl, report):
    identity = health.identity_quality(catalog)
    mo.vstack(
        [
            mo.md("## Identity resolution against the truth, over runs"),
            report.identity_chart(identity).figure,
            identity.filter(pl.col("scope").is_in(["all", "all_records"])).select(
                "world_day", "scope", "records", "clusters", "precision", "recall", "f1"
            ),
        ]
    )
    return


@app.cell
def _(catalog, health, mo, report):
    steps = health.step_volumes(catalog)
    mo.vstack(
        [
            mo.md("## Steps: time, rows, bytes and snapshots per run"),
            report.volume_chart(steps).figure,
            steps.select(
                "world_day",
                "step",
                "status",
                "duration_s",
                "rows_in",
                "rows_out",
                "bytes_written",
                "files_written",
                "snapshots_created",
            ),
        ]
    )
    return


@app.cell
def _(catalog, health, mo):
    sizes = health.table_sizes(catalog)
    mo.vstack([mo.md(f"## Tables: sizes, snapshots and files ({sizes.height} tables)"), sizes])
    return


@app.cell
def _(catalog, health, mo):
    alerts = health.alerts_open(catalog)
    mo.vstack([mo.md(f"## Open alerts ({alerts.height})"), alerts])
    return


if __name__ == "__main__":
    app.run()
