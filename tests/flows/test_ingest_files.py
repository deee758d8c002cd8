"""Ingest: vendor file drops land in raw once, broken files go to quarantine, drift is seen."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl
import pytest

from c360.settings import CatalogSettings, Settings, SourceSettings
from catalog.factory import open_catalog
from catalog.tables import ops, raw
from flows.ingest_files import (
    LANDED,
    QUARANTINE_PREFIX,
    QUARANTINED,
    VENDOR_FEEDS,
    SchemaChange,
    SchemaColumn,
    detect_changes,
    ingest_feed,
    land_file,
)
from simulator.emitters.landing import MALFORMED_SUFFIX, Landing, open_landing
from simulator.truth import read_manifest
from simulator.world import simulate
from tests.flows.landed_files import file_rows, ingest, ledger, reconcile, rows_of, snapshot_ids
from tests.flows.test_file_formats import BILLION_LAUGHS, external_entity

if TYPE_CHECKING:
    from tests.conftest import S3Server

SOURCE = "vendor_files"
FEEDS = list(VENDOR_FEEDS.values())
RAW_TABLES = [feed.table.identifier_name for feed in FEEDS]
OPS_TABLES = [ops.INGEST_LEDGER.identifier_name, ops.SCHEMA_CHANGES.identifier_name]

MakeWorld = Callable[..., Settings]


@pytest.fixture
def world(make_settings: Callable[..., Settings]) -> MakeWorld:
    """Settings for a fresh tiny world with the named faults on `fault_day`."""

    def make(*faults: str, fault_day: int = 1, **overrides: object) -> Settings:
        simulator = {"faults": list(faults), "fault_day": fault_day}
        return make_settings(scale=overrides.pop("scale", "tiny"), simulator=simulator, **overrides)

    return make


def live_and_ingest(settings: Settings, days: int) -> None:
    """Simulate days 0..days-1 one at a time, ingesting after each and reconciling it."""
    catalog = open_catalog(settings)
    for day in range(days):
        simulate(settings, days=0 if day == 0 else 1)
        ingest(settings, FEEDS, run_id=f"run-{day}")
        assert reconcile(settings, catalog, SOURCE, day) > 0


def emitted_rows(settings: Settings) -> int:
    manifest = read_manifest(settings.sources_dir / "truth")
    good = manifest.filter(
        (pl.col("source") == SOURCE) & ~pl.col("dataset").str.ends_with(MALFORMED_SUFFIX)
    )
    return int(good["rows"].sum())


def changes(settings: Settings) -> set[tuple[str, str, str, str]]:
    rows = rows_of(open_catalog(settings), ops.SCHEMA_CHANGES.identifier_name)
    return set(rows.select("table_name", "column_name", "change", "detail").iter_rows())


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_every_day_lands_each_file_as_the_manifest_says(world: MakeWorld, scale: str) -> None:
    settings = world(scale=scale)

    live_and_ingest(settings, days=4)

    catalog = open_catalog(settings)
    assert sum(rows_of(catalog, t).height for t in RAW_TABLES) == emitted_rows(settings)
    entries = ledger(catalog)
    assert entries["status"].unique().to_list() == [LANDED]
    assert entries.height == 10  # 4 loyalty, 4 products, a marketing list, a legacy export
    assert changes(settings) == set()


def test_raw_keeps_what_arrived_with_the_file_on_every_row(world: MakeWorld) -> None:
    settings = world()
    simulate(settings)
    ingest(settings, FEEDS)

    catalog = open_catalog(settings)
    loyalty = rows_of(catalog, raw.VENDOR_LOYALTY_MEMBERS.identifier_name)
    products = rows_of(catalog, raw.VENDOR_PRODUCT_FEED.identifier_name)
    marketing = rows_of(catalog, raw.VENDOR_MARKETING_LIST.identifier_name)
    # Text formats land as text, named as in the file; Parquet keeps its types.
    assert loyalty.schema["points"] == pl.String
    assert loyalty["points"].str.contains(r"^\d+$").all()
    assert loyalty["joinDate"].str.contains(r"^\d\d/\d\d/\d{4}$").all()
    assert products.schema["price"] == pl.Float64
    assert products.schema["in_stock"] == pl.Boolean
    assert marketing["Full Name"].str.contains(", ").any()
    assert marketing.columns[: len(raw.FILE_COLUMNS)] == [c.name for c in raw.FILE_COLUMNS]
    for frame in (loyalty, products, marketing):
        metadata = frame.select("_source", "_source_file", "_file_size", "_file_checksum")
        assert metadata.null_count().row(0) == (0, 0, 0, 0)
    entry = ledger(catalog).filter(pl.col("feed") == "loyalty").row(0, named=True)
    assert json.loads(entry["file_header"])["partner"] == "StarPoints Rewards"
    assert entry["file_format"] == "json"
    snapshot = catalog.load_table(raw.VENDOR_LOYALTY_MEMBERS.identifier_name).current_snapshot()
    assert snapshot is not None
    assert snapshot.summary is not None
    assert snapshot.summary["c360.source-file"] == entry["landing_key"]


def test_rerunning_the_scan_adds_nothing(world: MakeWorld) -> None:
    settings = world("malformed_files", "schema_drift")
    live_and_ingest(settings, days=2)
    catalog = open_catalog(settings)
    before = snapshot_ids(catalog, RAW_TABLES + OPS_TABLES)
    ledger_rows = ledger(catalog).height

    scans = ingest(settings, FEEDS, run_id="again")

    assert [s.writes for s in scans] == [[]] * len(FEEDS)
    assert [s.files for s in scans] == [[]] * len(FEEDS)
    assert snapshot_ids(catalog, RAW_TABLES + OPS_TABLES) == before
    assert ledger(catalog).height == ledger_rows
    for day in range(2):
        assert reconcile(settings, catalog, SOURCE, day) > 0


def test_malformed_files_are_quarantined_and_the_rest_of_the_drop_lands(
    world: MakeWorld,
) -> None:
    settings = world("malformed_files", fault_day=1)

    # Reconciling day 1 checks both: the broken files moved aside, every good file landed.
    live_and_ingest(settings, days=3)

    catalog = open_catalog(settings)
    quarantined = ledger(catalog).filter(pl.col("status") == QUARANTINED).sort("landing_key")
    reasons = dict(zip(quarantined["landing_key"], quarantined["reason"], strict=True))
    assert list(reasons) == [
        "legacy/export_0001_retry.xml",
        "loyalty/loyalty_members_20260102_resend.json",
        "marketing/Marketing_List_2026-01-02_corrected.csv",
    ]
    assert reasons["legacy/export_0001_retry.xml"].startswith("invalid XML: not well-formed")
    assert reasons["loyalty/loyalty_members_20260102_resend.json"].startswith("invalid JSON")
    assert reasons["marketing/Marketing_List_2026-01-02_corrected.csv"].startswith("invalid CSV")
    assert quarantined["quarantine_key"].to_list() == [QUARANTINE_PREFIX + k for k in reasons]
    assert sum(rows_of(catalog, t).height for t in RAW_TABLES) == emitted_rows(settings)


def test_schema_drift_is_recorded_and_raw_keeps_the_data(world: MakeWorld) -> None:
    # Day 4 is a Monday: the marketing list is due, so all three of its feeds drift.
    settings = world("schema_drift", fault_day=4)

    live_and_ingest(settings, days=5)

    catalog = open_catalog(settings)
    assert changes(settings) == {
        ("raw.vendor_loyalty_members", "points", "retyped", "integer -> string"),
        ("raw.vendor_marketing_list", "Email", "renamed", "E-mail Address -> Email"),
        ("raw.vendor_product_feed", "brand", "added", "string"),
    }
    # Each change points at the batch that brought it, which the ledger ties to its file.
    drift = rows_of(catalog, ops.SCHEMA_CHANGES.identifier_name)
    files = ledger(catalog).join(drift.select("batch_id"), on="batch_id")["landing_key"]
    assert sorted(files) == [
        "loyalty/loyalty_members_20260105.json",
        "marketing/Marketing_List_2026-01-05.csv",
        "products/product_feed_20260105.parquet",
    ]
    loyalty = rows_of(catalog, raw.VENDOR_LOYALTY_MEMBERS.identifier_name)
    drifted = loyalty.filter(pl.col("_source_file") == "loyalty/loyalty_members_20260105.json")
    assert drifted["points"].str.contains(",").any()
    marketing = rows_of(catalog, raw.VENDOR_MARKETING_LIST.identifier_name)
    monday = marketing.filter(pl.col("_source_file") == "marketing/Marketing_List_2026-01-05.csv")
    assert monday["Email"].null_count() == 0
    assert monday["E-mail Address"].null_count() == monday.height
    products = rows_of(catalog, raw.VENDOR_PRODUCT_FEED.identifier_name)
    drifted_feed = products.filter(pl.col("_source_file").str.contains("20260105"))
    assert drifted_feed["brand"].unique().to_list() == ["Acme"]


def test_a_new_legacy_element_is_recorded_as_an_added_column(world: MakeWorld) -> None:
    settings = world("schema_drift", fault_day=7)

    live_and_ingest(settings, days=8)

    assert ("raw.vendor_legacy_customers", "segment", "added", "segment") in changes(settings)
    legacy = rows_of(open_catalog(settings), raw.VENDOR_LEGACY_CUSTOMERS.identifier_name)
    export = legacy.filter(pl.col("_source_file") == "legacy/export_0002.xml")
    assert set(export["segment"]) == {"RETAIL", "TRADE", "STAFF"}


def test_unsafe_xml_is_quarantined_not_expanded(
    world: MakeWorld, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = world()
    simulate(settings)
    secret = tmp_path_factory.mktemp("outside") / "secret.txt"
    secret.write_text("c360-secret-token")
    landing = open_landing(settings)
    landing.put("legacy/export_bomb.xml", BILLION_LAUGHS)
    landing.put("legacy/export_xxe.xml", external_entity(str(secret)))

    [scan] = ingest(settings, [VENDOR_FEEDS["legacy"]])

    assert {e.landing_key: e.status for e in scan.files} == {
        "legacy/export_0001.xml": LANDED,
        "legacy/export_bomb.xml": QUARANTINED,
        "legacy/export_xxe.xml": QUARANTINED,
    }
    assert all(e.reason and e.reason.startswith("unsafe XML refused") for e in scan.quarantined)
    assert landing.list("legacy/") == ["legacy/export_0001.xml"]
    assert landing.list(QUARANTINE_PREFIX) == [
        "quarantine/legacy/export_bomb.xml",
        "quarantine/legacy/export_xxe.xml",
    ]
    legacy = rows_of(open_catalog(settings), raw.VENDOR_LEGACY_CUSTOMERS.identifier_name)
    assert legacy["_source_file"].unique().to_list() == ["legacy/export_0001.xml"]
    assert not legacy["name"].str.contains("secret|lol").any()


def test_a_crash_after_the_raw_commit_lands_the_file_once(world: MakeWorld) -> None:
    settings = world()
    simulate(settings)
    catalog = open_catalog(settings)
    feed = VENDOR_FEEDS["loyalty"]
    key = "loyalty/loyalty_members_20260101.json"
    data = open_landing(settings).get(key)
    # The raw commit happened; the scan died before writing the ledger.
    land_file(
        catalog,
        feed,
        key,
        data,
        checksum=hashlib.sha256(data).hexdigest(),
        baseline=None,
        run_id="crashed",
    )

    [scan] = ingest(settings, [feed])

    assert [w.skipped for w in scan.writes] == [True, False]  # raw skipped, ledger written
    assert reconcile(settings, catalog, SOURCE, 0, prefix=feed.prefix) > 0


class MoveFails:
    """A landing zone whose moves fail, as if the scan died right after the ledger commit."""

    def __init__(self, landing: Landing) -> None:
        self.inner = landing
        self.location = landing.location

    def put(self, key: str, data: bytes) -> None:
        self.inner.put(key, data)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def list(self, prefix: str = "") -> list[str]:
        return self.inner.list(prefix)

    def move(self, key: str, new_key: str) -> None:
        raise OSError("the scan died here")


def test_a_crash_before_the_quarantine_move_is_finished_by_the_next_scan(
    world: MakeWorld,
) -> None:
    settings = world("malformed_files", fault_day=0)
    simulate(settings)
    catalog = open_catalog(settings)
    feed = VENDOR_FEEDS["loyalty"]
    with pytest.raises(OSError, match="died"):
        ingest_feed(catalog, MoveFails(open_landing(settings)), feed, run_id="crashed")
    broken = "loyalty/loyalty_members_20260101_resend.json"
    assert open_landing(settings).list(broken) == [broken]
    entries = ledger(catalog).height

    [scan] = ingest(settings, [feed])

    assert scan.moved == [broken]
    assert scan.writes == []
    assert ledger(catalog).height == entries
    assert reconcile(settings, catalog, SOURCE, 0, prefix=feed.prefix) > 0


def test_a_corrected_file_under_a_quarantined_name_lands(world: MakeWorld) -> None:
    settings = world()
    landing = open_landing(settings)
    key = "loyalty/loyalty_members_20260301.json"
    landing.put(key, b'{"members": [{"memberId": "SP1"}, {"memberId": ')
    ingest(settings, [VENDOR_FEEDS["loyalty"]])
    landing.put(key, b'{"members": [{"memberId": "SP1"}, {"memberId": "SP2"}]}')

    [scan] = ingest(settings, [VENDOR_FEEDS["loyalty"]])

    assert [(e.landing_key, e.status, e.rows) for e in scan.files] == [(key, LANDED, 2)]
    assert landing.list(QUARANTINE_PREFIX) == [QUARANTINE_PREFIX + key]
    statuses = ledger(open_catalog(settings)).sort("processed_at")["status"].to_list()
    assert statuses == [QUARANTINED, LANDED]


def _parquet(frame: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.write_parquet(out)
    return out.getvalue()


def test_a_retyped_parquet_column_is_promoted_or_lands_beside_the_old_one(
    world: MakeWorld,
) -> None:
    settings = world()
    landing = open_landing(settings)
    feed = VENDOR_FEEDS["products"]
    first = pl.DataFrame({"sku": ["A"], "price": [1.5], "stock": pl.Series([3], dtype=pl.Int32)})
    landing.put("products/feed_1.parquet", _parquet(first))
    ingest(settings, [feed])
    second = pl.DataFrame({"sku": ["B"], "price": ["2,50"], "stock": [2**40]})
    landing.put("products/feed_2.parquet", _parquet(second))

    [scan] = ingest(settings, [feed])

    catalog = open_catalog(settings)
    products = rows_of(catalog, raw.VENDOR_PRODUCT_FEED.identifier_name).sort("sku")
    # int to long is a promotion Iceberg allows in place; double to text is not.
    assert products.schema["stock"] == pl.Int64
    assert products.select("sku", "price", "price__string", "stock").rows() == [
        ("A", 1.5, None, 3),
        ("B", None, "2,50", 2**40),
    ]
    assert changes(settings) == {
        ("raw.vendor_product_feed", "price", "retyped", "double -> string"),
        ("raw.vendor_product_feed", "stock", "retyped", "int32 -> int64"),
    }
    [entry] = ledger(catalog).filter(pl.col("landing_key") == "products/feed_2.parquet").to_dicts()
    assert file_rows(catalog, entry).equals(second)
    assert scan.landed[0].rows == 1


def test_detect_changes_tells_renames_from_additions_and_ignores_empty_columns() -> None:
    before = [
        SchemaColumn(n, k, n) for n, k in [("id", "string"), ("mail", "string"), ("n", "integer")]
    ]
    after = [
        SchemaColumn(n, k, n)
        for n, k in [("id", "string"), ("email", "string"), ("n", "null"), ("x", "string")]
    ]

    assert detect_changes(before, after) == [
        SchemaChange("email", "renamed", "mail -> email"),
        SchemaChange("x", "added", "string"),
    ]
    assert detect_changes(None, after) == []
    assert detect_changes(before, before[:1]) == [
        SchemaChange("mail", "removed", "string"),
        SchemaChange("n", "removed", "integer"),
    ]


@pytest.mark.integration
def test_files_land_from_an_s3_landing_zone(world: MakeWorld, s3_server: S3Server) -> None:
    settings = world(
        "malformed_files",
        sources=SourceSettings(landing=s3_server.unique_prefix()),
        catalog=CatalogSettings(s3=s3_server.s3_settings()),
    )

    live_and_ingest(settings, days=2)

    landing = open_landing(settings)
    assert landing.location.startswith("s3://")
    assert len(landing.list(QUARANTINE_PREFIX)) == 3
    assert [scan.writes for scan in ingest(settings, FEEDS)] == [[]] * len(FEEDS)
