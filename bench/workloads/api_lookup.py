"""Customer lookups over HTTP at 1 million customers: the API's serving copy vs a naive
API that queries the curated Iceberg table on every request.

Before any clock starts, `rows` synthetic customers (curated-shaped Arrow tables: a
customer_360 row each, their SCD2 versions, orders, sessions and tickets) go through the
same builder publishing uses (`api.serving_copy.build_serving_copy`), and customer_360 is
written to an Iceberg table for the baseline. Each run starts the server in a process of
its own (uvicorn on 127.0.0.1, one worker, no access log) and warms it up with other
lookups (so the normalisation cache does not help the timed ones); then a load generator
here (asyncio, HTTP/1.1 keep-alive, one connection per client) keeps `clients`
requests in flight in a closed loop: each client sends its next request as soon as its
last answer arrived. Lookups are random customers, by key (`/customers/{key}`) or by email
in another spelling (`/customers?email=%20First1.Last1@Example.Com`, normalised by the
server as staging does). Metrics: latency p50/p95/p99 in ms over the run's requests, and
requests/s (the runner's rows/s also counts stopping the server).

- `iceberg_*` (baseline `iceberg_key_c8`): FastAPI loading the table and scanning it with a
  pyiceberg row filter (`customer_key = ?`, or the golden `email = ?`) on every request;
  far slower, so it runs `BASELINE_REQUESTS` requests only (its p95/p99 are near its max).
- `serving_*`: `c360 serve --port N` itself, over the serving copy.

`python -m bench api_lookup --repeats 3` takes about 15 minutes on 2 cores (2 of them
building the world and its 2.8 GB serving copy).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from api.serving_copy import SERVED, CuratedSnapshot, build_serving_copy
from bench.runner import Outcome, Step, Variant, Workload, WorkloadContext
from c360.settings import ApiSettings, CatalogSettings, ProfileName, Settings
from catalog.factory import open_catalog
from catalog.registry import ensure_table

LOCALHOST = "127.0.0.1"
CLIENTS = (1, 8, 32)
LOOKUPS = ("key", "email")
REQUESTS = 6_000
BASELINE_REQUESTS = 16
WARMUP_REQUESTS = 300
BASELINE = "iceberg_key_c8"
PERCENTILES = (50, 95, 99)
START_TIMEOUT_S = 120.0
CLI_MAIN = "from c360.cli import main; main()"
STOP_TIMEOUT_S = 30.0
FIRST_DAY = np.datetime64("2025-01-01T00:00:00", "us")
DAY_US = 86_400_000_000


# --- synthetic curated tables ---------------------------------------------------------------


def synthetic_curated(customers: int, seed: int) -> CuratedSnapshot:
    """Curated-shaped marts for `customers` people: every customer_360 column filled,
    1-2 SCD2 versions each, about one order and one session each, a ticket for one in 20.
    Customer k's email is `first{k}.last{k}@example.com`."""
    rng = np.random.default_rng(seed)
    n = customers
    key = np.arange(1, n + 1, dtype=np.int64)
    ks = pl.Series("k", key).cast(pl.String)
    email = "first" + ks + ".last" + ks + "@example.com"
    phone = "+1555" + ks.str.zfill(7)
    orders = _orders(rng, key)
    totals = (
        orders.filter(pl.col("is_revenue"))
        .group_by("customer_key")
        .agg(
            pl.col("order_total").sum().alias("lifetime_value"),
            pl.len().cast(pl.Int32).alias("order_count"),
            pl.col("ordered_at").min().alias("first_order_at"),
            pl.col("ordered_at").max().alias("last_order_at"),
        )
    )
    c360 = (
        pl.DataFrame(
            {
                "customer_key": key,
                "first_name": "First" + ks,
                "last_name": "Last" + ks,
                "email": email,
                "phone": phone,
                "street": ks + " Main Street",
                "city": "Springfield",
                "state": "IL",
                "postcode": ks.str.slice(0, 5).str.zfill(5),
                "country": "US",
                "segment": pl.Series(
                    rng.choice(np.array(["Gold", "Silver", "Blue", ""]), n)
                ).replace("", None),
                "account_status": rng.choice(np.array(["active", "inactive"]), n),
                "emails": email,
                "phones": phone,
                "device_ids": "dev-" + ks,
                "source_ids": "crm:C" + ks.str.zfill(8) + ",loyalty:SP" + ks.str.zfill(8),
                "source_count": np.full(n, 3, dtype=np.int32),
            }
        )
        .join(totals, on="customer_key", how="left")
        .with_columns(
            # One in ten has a second email, on another domain.
            emails=pl.when(pl.Series(rng.random(n) < 0.1))
            .then(pl.col("email") + ",f" + pl.col("customer_key").cast(pl.String) + "@example.net")
            .otherwise(pl.col("email")),
        )
        .with_columns(
            pl.col("lifetime_value").fill_null(pl.lit(0).cast(pl.Decimal(12, 2))),
            pl.col("order_count").fill_null(0),
            days_since_last_order=_days_to_as_of("last_order_at"),
            rfm_recency_score=pl.lit(5, pl.Int32),
            rfm_frequency_score=pl.lit(1, pl.Int32),
            rfm_monetary_score=pl.lit(2, pl.Int32),
            rfm_segment=pl.lit("new"),
            last_activity_at=pl.col("last_order_at"),
            days_since_last_activity=_days_to_as_of("last_order_at"),
            session_count=pl.lit(1, pl.Int32),
            converted_sessions=pl.lit(0, pl.Int32),
            conversion_rate=pl.lit(0.0),
            open_tickets=pl.lit(0, pl.Int32),
            is_churn_risk=pl.lit(False),
        )
    )
    tables = {
        "customer_360": c360,
        "dim_customer": _versions(rng, c360),
        "fct_orders": orders,
        "fct_sessions": _sessions(rng, key),
        "fct_support_tickets": _tickets(rng, key),
    }
    return CuratedSnapshot({name: _fit(name, frame) for name, frame in tables.items()})


def _days_to_as_of(column: str) -> pl.Expr:
    """Days from `column`'s UTC date to the day after the newest (the marts' as-of date,
    one for every customer, as the dbt marts count them)."""
    day = pl.col(column).dt.date()
    return ((day.max() - day).dt.total_days() + 1).cast(pl.Int32)


def _fit(name: str, frame: pl.DataFrame) -> pa.Table:
    definition = SERVED[name]
    return frame.select(definition.column_names).to_arrow().cast(definition.schema().as_arrow())


def _times(rng: np.random.Generator, count: int) -> np.ndarray:
    return FIRST_DAY + rng.integers(0, 365 * DAY_US, count).astype("timedelta64[us]")


def _orders(rng: np.random.Generator, key: np.ndarray) -> pl.DataFrame:
    count = len(key)
    ordered_at = _times(rng, count)
    total = pl.Series(rng.integers(500, 50_000, count)).cast(pl.Decimal(12, 2)) / 100
    status = rng.choice(np.array(["delivered", "shipped", "cancelled"]), count, p=[0.8, 0.15, 0.05])
    return pl.DataFrame(
        {
            "order_id": pl.Series(np.arange(count))
            .cast(pl.String)
            .str.zfill(9)
            .str.replace("^", "O"),
            "customer_key": rng.choice(key, count),
            "customer_id": None,
            "ordered_at": pl.Series(ordered_at).dt.replace_time_zone("UTC"),
            "status": status,
            "currency": "USD",
            "order_total": total.cast(pl.Decimal(12, 2)),
            "items_total": total.cast(pl.Decimal(12, 2)),
            "item_count": rng.integers(1, 5, count).astype(np.int32),
            "paid_total": total.cast(pl.Decimal(12, 2)),
            "is_revenue": status != "cancelled",
        }
    ).with_columns(order_date=pl.col("ordered_at").dt.date(), customer_id=pl.lit(None, pl.String))


def _versions(rng: np.random.Generator, c360: pl.DataFrame) -> pl.DataFrame:
    first = c360.select(
        [c for c in SERVED["dim_customer"].column_names if c in c360.columns]
    ).with_columns(
        version=pl.lit(0),
        valid_from=pl.lit(FIRST_DAY.item()).dt.replace_time_zone("UTC"),
    )
    moved = first.filter(pl.Series(rng.random(first.height) < 0.2)).with_columns(
        version=pl.lit(1),
        valid_from=pl.lit((FIRST_DAY + np.timedelta64(200, "D")).item()).dt.replace_time_zone(
            "UTC"
        ),
        city=pl.lit("Shelbyville"),
    )
    return (
        pl.concat([first, moved])
        .sort("customer_key", "version")
        .with_columns(
            customer_version_id="v"
            + pl.col("customer_key").cast(pl.String)
            + "-"
            + pl.col("version").cast(pl.String),
            valid_to=pl.col("valid_from").shift(-1).over("customer_key"),
        )
        .with_columns(is_current=pl.col("valid_to").is_null())
    )


def _sessions(rng: np.random.Generator, key: np.ndarray) -> pl.DataFrame:
    count = len(key)
    owner = rng.choice(key, count)
    started = _times(rng, count)
    duration = rng.integers(10, 3_600, count)
    return pl.DataFrame(
        {
            "session_id": pl.Series(np.arange(count)).cast(pl.String).str.replace("^", "s-"),
            "device_id": pl.Series(owner).cast(pl.String).str.replace("^", "dev-"),
            "customer_key": owner,
            "started_at": pl.Series(started).dt.replace_time_zone("UTC"),
            "ended_at": pl.Series(started + duration.astype("timedelta64[s]")).dt.replace_time_zone(
                "UTC"
            ),
            "duration_seconds": duration,
            "event_count": rng.integers(1, 30, count).astype(np.int32),
            "page_views": rng.integers(1, 20, count).astype(np.int32),
            "searches": rng.integers(0, 5, count).astype(np.int32),
            "add_to_carts": rng.integers(0, 3, count).astype(np.int32),
            "is_converted": rng.random(count) < 0.1,
        }
    )


def _tickets(rng: np.random.Generator, key: np.ndarray) -> pl.DataFrame:
    count = max(1, len(key) // 20)
    return pl.DataFrame(
        {
            "ticket_id": pl.Series(np.arange(count))
            .cast(pl.String)
            .str.zfill(7)
            .str.replace("^", "TCK-"),
            "customer_key": rng.choice(key, count),
            "created_at": pl.Series(_times(rng, count)).dt.replace_time_zone("UTC"),
            "channel": rng.choice(np.array(["email", "phone", "chat"]), count),
            "subject": "Where is my order?",
            "referenced_order_id": None,
            "is_open": rng.random(count) < 0.3,
        }
    ).with_columns(referenced_order_id=pl.lit(None, pl.String))


# --- the servers ----------------------------------------------------------------------------


def bench_settings(home: Path) -> Settings:
    """A SQLite catalog and local warehouse under `home`, whatever the environment says."""
    home = home.resolve()
    return Settings(
        home=home,
        profile=ProfileName.LOCAL,
        catalog=CatalogSettings(
            type="sql", uri=f"sqlite:///{home}/catalog.db", warehouse=f"file://{home}/warehouse"
        ),
        api=ApiSettings(serving_path=home / "serving" / "customers.sqlite"),
    )


def prepare_lakehouse(
    home: Path, customers: int, seed: int
) -> tuple[Settings, list[int], list[str]]:
    """The synthetic world as a serving copy and an Iceberg customer_360; some keys and
    emails to look up."""
    settings = bench_settings(home)
    curated = synthetic_curated(customers, seed)
    build_serving_copy(curated, settings.api.serving_path or home, timeline_limit=20)
    table = ensure_table(open_catalog(settings), SERVED["customer_360"])
    table.append(curated.tables["customer_360"])
    c360 = curated.tables["customer_360"]
    return settings, c360["customer_key"].to_pylist(), c360["email"].to_pylist()


def naive_app(settings: Settings) -> Any:
    """The baseline: an API that scans curated.customer_360 on every request."""
    from fastapi import FastAPI, HTTPException
    from pyiceberg.expressions import EqualTo

    from api import lookup

    catalog = open_catalog(settings)
    name = SERVED["customer_360"].identifier_name
    app = FastAPI()

    def rows(column: str, value: object) -> list[dict[str, Any]]:
        scan = catalog.load_table(name).scan(row_filter=EqualTo(column, value))  # type: ignore[call-arg, arg-type, misc]
        return list(scan.to_arrow().to_pylist())

    @app.get("/customers/{customer_key}")
    def get_customer(customer_key: int) -> dict[str, Any]:
        found = rows("customer_key", customer_key)
        if not found:
            raise HTTPException(404, f"no customer {customer_key}")
        return found[0]

    @app.get("/customers")
    def find_customers(email: str) -> dict[str, Any]:
        found = rows("email", lookup.email(email))
        if not found:
            raise HTTPException(404, f"no customer has email {email!r}")
        return {"customers": found}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve_naive(home: Path, port: int) -> None:
    """Run the baseline server in this process until SIGTERM (the bench's subprocess)."""
    import uvicorn

    uvicorn.run(
        naive_app(bench_settings(home)),
        host=LOCALHOST,
        port=port,
        access_log=False,
        log_level="warning",
    )


def start_server(kind: str, home: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server of `kind` (`serving` or `iceberg`) on a free port; wait for /health."""
    import httpx

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "POLARS_"))}
    if kind == "serving":
        # What a user runs: `c360 serve`, on the bench's serving copy.
        settings = bench_settings(home)
        env |= {
            "C360_HOME": str(settings.home),
            "C360_API__SERVING_PATH": str(settings.api.serving_path),
        }
        command = [sys.executable, "-c", CLI_MAIN, "serve", "--port", str(port)]
    else:
        command = [sys.executable, "-m", __name__, str(home), str(port)]
    process = subprocess.Popen(
        command, cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the {kind} server exited with {process.returncode}")
        try:
            if httpx.get(f"http://{LOCALHOST}:{port}/health", timeout=2).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_server(process)
            raise RuntimeError(f"the {kind} server did not answer within {START_TIMEOUT_S:g} s")
        time.sleep(0.1)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server (uvicorn shuts down gracefully); kill it if it will not go."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


# --- the load generator ---------------------------------------------------------------------

HEADER_END = b"\r\n\r\n"
CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def request_paths(
    lookup: str, keys: Sequence[int], emails: Sequence[str], count: int, seed: int
) -> list[str]:
    """`count` random lookups: by key, or by email in another spelling."""
    rng = random.Random(seed)
    if lookup == "key":
        return [f"/customers/{rng.choice(keys)}" for _ in range(count)]
    # Capitals and a leading space: the server normalises as staging does.
    return [f"/customers?email=%20{rng.choice(emails).title()}" for _ in range(count)]


def run_load(port: int, paths: Sequence[str], clients: int) -> tuple[list[float], int]:
    """Send `paths` over `clients` keep-alive connections, closed loop; the latency of each
    request (seconds) and how many did not answer 200."""
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        runner = asyncio.Runner()
    with runner:
        return runner.run(_load(port, paths, clients))


async def _load(port: int, paths: Sequence[str], clients: int) -> tuple[list[float], int]:
    requests = iter([f"GET {p} HTTP/1.1\r\nHost: {LOCALHOST}\r\n\r\n".encode() for p in paths])
    latencies: list[float] = []
    failed = 0

    async def client() -> None:
        nonlocal failed
        reader, writer = await asyncio.open_connection(LOCALHOST, port)
        try:
            for request in requests:  # shared: each request goes to the first free client
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(HEADER_END)
                length = CONTENT_LENGTH.search(head)
                await reader.readexactly(int(length[1]) if length else 0)
                latencies.append(time.perf_counter() - start)
                if head[9:12] != b"200":
                    failed += 1
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, failed


def latency_metrics(latencies: Sequence[float], seconds: float, failed: int) -> dict[str, float]:
    """p50/p95/p99 in ms, requests/s, and the count of non-200 answers."""
    ms = np.array(latencies) * 1000
    return {
        **{f"p{p}_ms": float(np.percentile(ms, p)) for p in PERCENTILES},
        "req_s": len(latencies) / seconds,
        "errors": float(failed),
    }


# --- the workload ---------------------------------------------------------------------------


def variants_for(
    context: WorkloadContext,
    *,
    clients: Sequence[int] = CLIENTS,
    requests: int = REQUESTS,
    baseline_requests: int = BASELINE_REQUESTS,
    warmup_requests: int = WARMUP_REQUESTS,
) -> list[Variant]:
    """Both servers x key and email lookups x each client count."""
    home = context.workdir / "lakehouse"
    home.mkdir(parents=True, exist_ok=True)
    _, keys, emails = prepare_lakehouse(home, context.rows, context.seed)
    variants = []
    for kind, count, warm in (
        ("iceberg", baseline_requests, min(3, baseline_requests)),
        ("serving", requests, warmup_requests),
    ):
        for lookup in LOOKUPS:
            for n in clients:
                variants.append(
                    _variant(kind, lookup, n, home, keys, emails, count, warm, context.seed)
                )
    return variants


def _variant(
    kind: str,
    lookup: str,
    clients: int,
    home: Path,
    keys: Sequence[int],
    emails: Sequence[str],
    requests: int,
    warmup: int,
    seed: int,
) -> Variant:
    def prepare() -> Step:
        process, port = start_server(kind, home)
        try:
            run_load(port, request_paths(lookup, keys, emails, warmup, seed + 1), clients)
        except BaseException:
            stop_server(process)
            raise
        paths = request_paths(lookup, keys, emails, requests, seed)

        def step() -> Outcome:
            try:
                started = time.perf_counter()
                latencies, failed = run_load(port, paths, clients)
                seconds = time.perf_counter() - started
            finally:
                stop_server(process)
            return Outcome(len(latencies), latency_metrics(latencies, seconds, failed))

        return step

    return Variant(f"{kind}_{lookup}_c{clients}", prepare)


WORKLOAD = Workload(
    name="api_lookup",
    doc="customer lookups over HTTP: serving copy vs a per-request Iceberg scan, 1/8/32 clients",
    baseline=BASELINE,
    default_rows=1_000_000,
    variants=variants_for,
)


if __name__ == "__main__":
    serve_naive(Path(sys.argv[1]), int(sys.argv[2]))
