"""Explore the Customer 360: find a customer by email, see everything the lakehouse knows
about them, travel back to an earlier run, and chart the customer base.

Open with `just notebook explore_customer_360`; it reads the lakehouse of the usual
settings (`C360_HOME`, `C360_PROFILE`, ...), as `c360 catalog` prints them.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo
    import plotly.graph_objects as go
    import polars as pl
    from pyiceberg.catalog import load_catalog

    from c360.settings import load_settings
    from catalog.factory import catalog_properties
    from transforms.polars import normalise

    return catalog_properties, go, load_catalog, load_settings, mo, normalise, pl


@app.cell
def _(catalog_properties, load_catalog, load_settings, mo, pl):
    # The documented way in: the catalog properties `c360 catalog` prints, read by pyiceberg.
    settings = load_settings()
    # Always the name "c360": the SQL catalog stores it in every row.
    catalog = load_catalog("c360", **catalog_properties(settings.resolved_catalog()))

    def rows(name, snapshot_id=None):
        """A table's rows (at `snapshot_id`, default its current snapshot), via pyiceberg."""
        return pl.from_arrow(catalog.load_table(name).scan(snapshot_id=snapshot_id).to_arrow())

    profiles = rows("curated.customer_360")
    mo.md(
        f"Lakehouse at `{settings.home}`: **{profiles.height:,}** customers in "
        "`curated.customer_360`."
    )
    return catalog, profiles, rows


@app.cell
def _(mo, pl, profiles):
    # Start from the customer seen in the most sources: the most to show.
    _richest = profiles.filter(pl.col("email").is_not_null()).sort(
        "source_count", "customer_key", descending=[True, False]
    )
    email = mo.ui.text(
        value=_richest["email"][0], label="Find a customer by email", full_width=True
    )
    email  # noqa: B018 (a cell shows its last expression)
    return (email,)


@app.cell
def _(email, mo, normalise, pl, profiles):
    # Emails are matched as staging normalises them: any case, stray spaces.
    wanted = pl.DataFrame({"email": [email.value]}).select(normalise.email("email"))["email"][0]
    found = profiles.filter(pl.col("emails").str.split(",").list.contains(wanted))
    assert found.height, f"no customer with the email {wanted!r}"
    customer_key = found["customer_key"][0]
    mo.vstack(
        [
            mo.md(f"### Customer {customer_key}: the 360 profile"),
            found.transpose(include_header=True, column_names=["value"]),
        ]
    )
    return (customer_key,)


@app.cell
def _(customer_key, mo, pl, rows):
    records = rows("staging.customer_xref").filter(pl.col("customer_key") == customer_key)
    mo.vstack(
        [
            mo.md(f"### Every source record resolved to {customer_key} ({records.height})"),
            records.sort("source", "source_record_id"),
        ]
    )
    return


@app.cell
def _(customer_key, mo, pl, rows):
    history = (
        rows("curated.dim_customer")
        .filter(pl.col("customer_key") == customer_key)
        .sort("valid_from")
    )
    mo.vstack([mo.md(f"### SCD2 history ({history.height} versions)"), history])
    return


@app.cell
def _(customer_key, mo, pl, rows):
    _mine = pl.col("customer_key") == customer_key
    timeline = pl.concat(
        [
            rows("curated.fct_orders")
            .filter(_mine)
            .select(
                at="ordered_at",
                kind=pl.lit("order"),
                id="order_id",
                what=pl.format("{} {} {}", "status", "order_total", "currency"),
            ),
            rows("curated.fct_sessions")
            .filter(_mine)
            .select(
                at="started_at",
                kind=pl.lit("session"),
                id="session_id",
                what=pl.format("{} events, converted: {}", "event_count", "is_converted"),
            ),
            rows("curated.fct_support_tickets")
            .filter(_mine)
            .select(
                at="created_at",
                kind=pl.lit("ticket"),
                id="ticket_id",
                what=pl.format("{} via {}", "subject", "channel"),
            ),
        ]
    ).sort("at", descending=True)
    mo.vstack([mo.md(f"### Timeline: orders, sessions and tickets ({timeline.height})"), timeline])
    return


@app.cell
def _(catalog, mo, pl, profiles, rows):
    # Time travel: curated.customer_360 as the first run left it (its manifest in ops),
    # against now.
    _manifest = rows("ops.run_snapshots").filter(
        (pl.col("table_name") == "curated.customer_360") & (pl.col("role") == "result")
    )
    _first = rows("ops.pipeline_runs").sort("started_at")["run_id"][0]
    then_id = _manifest.filter(pl.col("run_id") == _first)["snapshot_id"][0]
    now_id = catalog.load_table("curated.customer_360").current_snapshot().snapshot_id
    then = rows("curated.customer_360", then_id)
    _columns = ["customer_key", "email", "segment", "lifetime_value", "order_count", "rfm_segment"]
    _joined = then.select(_columns).join(
        profiles.select(_columns), on="customer_key", how="full", suffix="_now"
    )
    changed = _joined.filter(
        pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_now")) for c in _columns[1:])
        & pl.col("customer_key").is_not_null()
        & pl.col("customer_key_now").is_not_null()
    )
    added = _joined.filter(pl.col("customer_key").is_null()).height
    removed = _joined.filter(pl.col("customer_key_now").is_null()).height
    mo.vstack(
        [
            mo.md(
                f"### Time travel: `curated.customer_360` at run {_first} "
                f"(snapshot {then_id}) vs now ({now_id})\n\n"
                f"{then.height:,} customers then, {profiles.height:,} now: {added:,} added, "
                f"{removed:,} gone, {changed.height:,} changed."
            ),
            changed.head(20),
        ]
    )
    return


@app.cell
def _(go, mo, pl, profiles, rows):
    _revenue = (
        rows("curated.fct_orders")
        .filter(pl.col("is_revenue"))
        .join(profiles.select("customer_key", "segment"), on="customer_key", how="left")
        .group_by(pl.col("segment").fill_null("none"))
        .agg(pl.col("order_total").sum())
        .sort("segment")
    )
    _rfm = (
        profiles.group_by(pl.col("rfm_segment").fill_null("none"))
        .len()
        .sort("len", descending=True)
    )
    _sessions = rows("curated.fct_sessions")
    _funnel = {
        "sessions": _sessions.height,
        "with a search": _sessions.filter(pl.col("searches") > 0).height,
        "added to cart": _sessions.filter(pl.col("add_to_carts") > 0).height,
        "converted": _sessions.filter(pl.col("is_converted")).height,
    }
    _layout = {"height": 320, "margin": {"l": 40, "r": 10, "t": 40, "b": 40}}
    mo.hstack(
        [
            go.Figure(
                go.Bar(x=_revenue["segment"], y=_revenue["order_total"]),
                layout={**_layout, "title": "Revenue by segment"},
            ),
            go.Figure(
                go.Bar(x=_rfm["rfm_segment"], y=_rfm["len"]),
                layout={**_layout, "title": "RFM segments"},
            ),
            go.Figure(
                go.Funnel(y=list(_funnel), x=list(_funnel.values())),
                layout={**_layout, "title": "Conversion funnel"},
            ),
        ],
        widths="equal",
    )
    return


if __name__ == "__main__":
    app.run()
