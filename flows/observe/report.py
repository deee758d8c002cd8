"""`c360 report`: a static HTML dashboard of the pipeline's health under
`$C360_HOME/reports/`, readable offline: Plotly's JavaScript is inlined once and every
chart is drawn from the figures `health` reads from the ops zone.

When every chart has drawn, the page sets `data-charts-drawn` on its body to the number of
charts with a non-empty SVG, so a headless browser can check it (the tests do).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.factory import open_catalog
from flows.observe import health
from simulator.world import read_published

REPORT_FILE = "pipeline-report.html"
CHART_HEIGHT = 340
# Counts the charts Plotly drew (an SVG with an area) once every one has, then says so.
DRAWN_SCRIPT = """
<script>
Promise.all(Array.from(document.querySelectorAll('.plotly-graph-div'), (div) =>
  new Promise((resolve) => {
    const check = () => (div._fullLayout ? resolve() : setTimeout(check, 50));
    check();
  }))).then(() => {
  const drawn = Array.from(document.querySelectorAll('.plotly-graph-div')).filter((div) => {
    const svg = div.querySelector('svg.main-svg');
    const box = svg && svg.getBoundingClientRect();
    return box && box.width > 0 && box.height > 0 && div.querySelectorAll('path').length > 0;
  }).length;
  document.body.dataset.chartsDrawn = String(drawn);
});
</script>
"""
STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #1f2933; background: #fafbfc; }
h1 { margin-bottom: 0; } .meta { color: #616e7c; margin-top: 4px; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
section { background: white; border: 1px solid #e4e7eb; border-radius: 6px; padding: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e7eb; }
.none { color: #3f9142; }
"""


@dataclass(frozen=True)
class Chart:
    """One chart of the dashboard: its title and figure."""

    title: str
    figure: go.Figure


def _layout(figure: go.Figure, y_title: str) -> go.Figure:
    figure.update_layout(
        height=CHART_HEIGHT,
        margin={"l": 50, "r": 20, "t": 30, "b": 40},
        yaxis_title=y_title,
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
    )
    return figure


def _run_label(frame: pl.DataFrame) -> list[str]:
    return [
        f"day {d} · {t:%H:%M:%S}" for d, t in frame.select("world_day", "run_started_at").rows()
    ]


def compliance_chart(compliance: pl.DataFrame) -> Chart:
    """SLO compliance per latency tier: days within the SLA, in percent."""
    labels = [
        f"tier {t} {layer} (≤ {s:g} min)"
        for t, layer, s in compliance.select("tier", "layer", "sla_minutes").rows()
    ]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=compliance["compliance_pct"].fill_null(0).to_list(),
            text=[f"{w}/{d} days" for w, d in compliance.select("within_sla", "days").rows()],
            marker_color="#3f9142",
        )
    )
    figure.update_yaxes(range=[0, 100])
    return Chart("SLO compliance per latency tier", _layout(figure, "% of days within SLA"))


def dq_chart(trend: pl.DataFrame) -> Chart:
    """Data-quality SLOs passed per metric, run by run."""
    figure = go.Figure()
    for metric in sorted(set(trend["metric"])):
        rows = trend.filter(pl.col("metric") == metric)
        figure.add_trace(
            go.Scatter(
                x=_run_label(rows), y=rows["pass_pct"].to_list(), name=metric, mode="lines+markers"
            )
        )
    figure.update_yaxes(range=[0, 105])
    return Chart("Data-quality SLOs passed, by run", _layout(figure, "% of feeds passing"))


def freshness_chart(latest: pl.DataFrame) -> Chart:
    """Each feed's freshness and replication lag in the newest run, against its SLA."""
    feeds = latest["feed"].to_list()
    figure = go.Figure(
        [
            go.Bar(
                x=feeds,
                y=(latest["freshness_lag_s"].fill_null(0) / 60).to_list(),
                name="freshness lag",
            ),
            go.Bar(x=feeds, y=(latest["replication_lag_s"] / 60).to_list(), name="replication lag"),
            go.Scatter(
                x=feeds,
                y=latest["sla_minutes"].to_list(),
                name="tier SLA",
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 24},
            ),
        ]
    )
    # Lags of seconds and SLAs of hours on one axis: logarithmic (a lag of 0 draws no bar).
    figure.update_yaxes(type="log")
    return Chart("Freshness per source (newest run)", _layout(figure, "minutes (log)"))


def volume_chart(steps: pl.DataFrame) -> Chart:
    """Rows each step committed, run by run."""
    figure = go.Figure()
    for step in dict.fromkeys(steps["step"].to_list()):
        rows = steps.filter(pl.col("step") == step)
        figure.add_trace(go.Bar(x=_run_label(rows), y=rows["rows_out"].to_list(), name=step))
    figure.update_layout(barmode="stack")
    return Chart("Volumes: rows committed per step, by run", _layout(figure, "rows"))


def bytes_chart(steps: pl.DataFrame) -> Chart:
    """Bytes written and scanned (the cost proxy), run by run."""
    per_run = (
        steps.group_by("run_id", "world_day", "run_started_at", maintain_order=True)
        .agg(pl.col("bytes_written").sum(), pl.col("bytes_scanned").fill_null(0).sum())
        .sort("run_started_at")
    )
    labels = _run_label(per_run)
    figure = go.Figure(
        [
            go.Bar(x=labels, y=(per_run["bytes_written"] / 2**20).to_list(), name="written"),
            go.Bar(x=labels, y=(per_run["bytes_scanned"] / 2**20).to_list(), name="scanned"),
        ]
    )
    return Chart("Cost proxy: bytes written and scanned, by run", _layout(figure, "MiB"))


def identity_chart(metrics: pl.DataFrame) -> Chart:
    """Identity resolution's precision, recall and F1 (scope `all`), run by run."""
    overall = metrics.filter(pl.col("scope") == "all")
    labels = _run_label(overall)
    figure = go.Figure(
        [
            go.Scatter(x=labels, y=overall[m].to_list(), name=m, mode="lines+markers")
            for m in ("precision", "recall", "f1")
        ]
    )
    return Chart("Identity resolution vs the truth", _layout(figure, "pairwise"))


def html_table(frame: pl.DataFrame, empty: str) -> str:
    """`frame` as an HTML table, or `empty` in words when it has no rows."""
    if frame.is_empty():
        return f'<p class="none">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def charts(catalog: Catalog, settings: Settings) -> list[Chart]:
    """Every chart of the dashboard, from the ops zone."""
    steps = health.step_volumes(catalog)
    return [
        compliance_chart(health.slo_compliance(catalog, read_published(settings))),
        dq_chart(health.dq_trend(catalog)),
        freshness_chart(health.latest_freshness(catalog)),
        identity_chart(health.identity_quality(catalog)),
        volume_chart(steps),
        bytes_chart(steps),
    ]


def render(catalog: Catalog, settings: Settings, now: datetime | None = None) -> str:
    """The dashboard as one self-contained HTML page."""
    now = now or datetime.now(UTC)
    recorded = health.runs(catalog)
    sections = [
        f"<section><h3>{html.escape(c.title)}</h3>"
        + c.figure.to_html(
            full_html=False, include_plotlyjs=False, config={"displayModeBar": False}
        )
        + "</section>"
        for c in charts(catalog, settings)
    ]
    alerts = html_table(health.alerts_open(catalog), "no open alerts")
    sizes = html_table(health.table_sizes(catalog), "no tables yet")
    last = recorded.tail(1).rows(named=True)
    meta = (
        f"{recorded.height} runs; newest {last[0]['run_id']} (day {last[0]['world_day']})"
        if last
        else "no runs recorded yet"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>c360 pipeline report</title>
<style>{STYLE}</style><script>{get_plotlyjs()}</script></head>
<body>
<h1>c360 pipeline report</h1>
<p class="meta">{html.escape(meta)} · home {html.escape(str(settings.home))} ·
generated {now:%Y-%m-%d %H:%M:%S} UTC</p>
<section><h3>Open alerts</h3>{alerts}</section>
<div class="grid">{"".join(sections)}</div>
<section><h3>Tables</h3>{sizes}</section>
{DRAWN_SCRIPT}
</body></html>
"""


def write_report(settings: Settings) -> Path:
    """Write the dashboard to `$C360_HOME/reports/pipeline-report.html` (replaced whole)."""
    page = render(open_catalog(settings), settings)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    target = settings.reports_dir / REPORT_FILE
    partial = target.with_suffix(".partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(target)
    return target
