"""Vendor file drops: four feeds that parse, match the manifest, carry truth, and break on cue."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from c360.settings import CatalogSettings, Settings, SourceSettings, load_settings
from simulator.emitters.landing import MALFORMED_SUFFIX, rows_checksum
from simulator.population import generate_people
from simulator.sources.crm import CrmSource
from simulator.sources.orders import CATALOG_STATE, OrdersSource
from simulator.sources.tickets import TicketsSource
from simulator.sources.vendor_files import (
    LEGACY_SHARE,
    LOYALTY_SHARE,
    MARKETING_COLUMNS,
    VendorFilesSource,
)
from tests.simulator.sources.lived_world import World, live
from transforms.polars import normalise

if TYPE_CHECKING:
    from tests.conftest import S3Server

ID_COLUMNS = {"loyalty": "memberId", "marketing": "Contact ID", "legacy": "id"}
ALL_KEY_FAULTS = ["null_keys", "duplicate_keys"]
FAMILY = "vendor_files"


def parse(key: str, data: bytes) -> pl.DataFrame:
    """A landed file's rows, read back with a standard parser; raises if it is malformed."""
    if key.endswith(".json"):
        members = json.loads(data)["members"]
        return pl.DataFrame(members, infer_schema_length=None)
    if key.endswith(".csv"):
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), strict=True)
        rows = list(reader)
        assert all(None not in row for row in rows), f"{key}: a row has more fields than headers"
        return pl.DataFrame(rows, schema=reader.fieldnames)
    if key.endswith(".xml"):
        root = ET.fromstring(data)
        return pl.DataFrame(
            [
                {
                    "id": customer.get("id"),
                    **{child.tag: child.text for child in customer if child.tag != "contact"},
                    **dict(customer.find("contact").attrib),  # type: ignore[union-attr]
                }
                for customer in root
            ],
            infer_schema_length=None,
        )
    assert key.endswith(".parquet"), key
    return pl.read_parquet(data)


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.fixture
def settings_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Tiny-world settings under `tmp_path/<name>`: one home per world in a test."""

    def make(name: str, *faults: str, fault_day: int = 1, **overrides: object) -> Settings:
        with monkeypatch.context() as m:
            m.chdir(tmp_path)  # so a developer's `.env` in the repo is not read
            return load_settings(
                home=tmp_path / name,
                scale="tiny",
                simulator={"faults": list(faults), "fault_day": fault_day},
                **overrides,
            )

    return make


@pytest.fixture
def week(settings_at: Callable[..., Settings]) -> World:
    """Eight days of vendor drops, no faults: day 4 is a Monday, day 7 a legacy export."""
    return live(settings_at("week"), 8, [VendorFilesSource()])


def faulty(
    settings_at: Callable[..., Settings], *faults: str, day: int = 1, days: int | None = None
) -> World:
    settings = settings_at("-".join(faults) or "clean", *faults, fault_day=day)
    return live(settings, days or day + 2, [VendorFilesSource()])


def test_same_seed_gives_byte_identical_files(settings_at: Callable[..., Settings]) -> None:
    faults = ["malformed_files", "schema_drift", *ALL_KEY_FAULTS]
    first = live(settings_at("first", *faults), 3, [VendorFilesSource()])
    again = live(settings_at("again", *faults), 3, [VendorFilesSource()])
    other = live(settings_at("other", seed=43), 1, [VendorFilesSource()])

    # Same seed, another home: the same bytes; another seed: other bytes.
    assert again.files == first.files
    assert again.manifest(FAMILY) == first.manifest(FAMILY)
    assert first.truth(FAMILY).equals(again.truth(FAMILY))
    day0 = "loyalty/loyalty_members_20260101.json"
    assert other.files[day0] != first.files[day0]


def test_feeds_arrive_on_their_schedules(week: World) -> None:
    assert sorted(week.files) == sorted(
        [f"loyalty/loyalty_members_2026010{d}.json" for d in range(1, 9)]
        + [f"products/product_feed_2026010{d}.parquet" for d in range(1, 9)]
        + ["marketing/Marketing_List_2026-01-01.csv", "marketing/Marketing_List_2026-01-05.csv"]
        + ["legacy/export_0001.xml", "legacy/export_0002.xml"]
    )
    assert sorted(week.manifest(FAMILY)) == sorted(week.files)


def test_every_file_parses_and_matches_its_manifest_entry(week: World) -> None:
    manifest = week.manifest(FAMILY)

    for key, data in week.files.items():
        rows = parse(key, data)
        assert (rows.height, rows_checksum(rows)) == manifest[key], key
    marketing = parse("x.csv", week.files["marketing/Marketing_List_2026-01-01.csv"])
    assert marketing.columns == list(MARKETING_COLUMNS.values())
    # Names written "Last, First" are quoted so that their comma stays in the field.
    assert marketing["Full Name"].str.contains(", ").any()
    assert b'"' in week.files["marketing/Marketing_List_2026-01-01.csv"]


def test_volumes_follow_the_population(week: World) -> None:
    people = week.people.height
    rows = {key: n for key, (n, _) in week.manifest(FAMILY).items()}

    assert rows["loyalty/loyalty_members_20260101.json"] == pytest.approx(
        people * LOYALTY_SHARE, rel=0.25
    )
    deltas = [rows[f"loyalty/loyalty_members_2026010{d}.json"] for d in range(2, 9)]
    assert 0 < sum(deltas) / len(deltas) < 0.1 * rows["loyalty/loyalty_members_20260101.json"]
    assert rows["legacy/export_0001.xml"] == pytest.approx(people * LEGACY_SHARE, rel=0.2)
    assert rows["legacy/export_0002.xml"] == rows["legacy/export_0001.xml"]
    assert 0.08 * people < rows["marketing/Marketing_List_2026-01-01.csv"] < 0.25 * people
    assert rows["products/product_feed_20260101.parquet"] == 500


def test_each_vendor_writes_in_its_own_style(week: World) -> None:
    loyalty = parse("x.json", week.files["loyalty/loyalty_members_20260101.json"])
    marketing = parse("x.csv", week.files["marketing/Marketing_List_2026-01-01.csv"])
    legacy = parse("x.xml", week.files["legacy/export_0001.xml"])
    products = parse("x.parquet", week.files["products/product_feed_20260101.parquet"])

    assert loyalty["phone"].drop_nulls().str.contains(r"^\d{3}\.\d{3}\.\d{4}$").all()
    assert loyalty["joinDate"].str.contains(r"^\d{2}/\d{2}/\d{4}$").all()
    assert (
        marketing["Phone"]
        .filter(marketing["Phone"] != "")
        .str.contains(r"^\(\d{3}\) \d{3}-\d{4}$")
        .all()
    )
    assert set(marketing["Opt In"]) == {"Yes", "No"}
    assert legacy["since"].str.contains(r"^\d{2}\.\d{2}\.\d{4}$").all()
    assert legacy["name"].str.contains(r"^[^,]+, [^,]+$").all()
    assert products.schema == pl.Schema(
        {
            "sku": pl.String,
            "name": pl.String,
            "category": pl.String,
            "price": pl.Float64,
            "in_stock": pl.Boolean,
        }
    )


def test_vendor_records_are_the_people_as_the_vendor_typed_them(week: World) -> None:
    truth = week.truth(FAMILY)
    loyalty = parse("x.json", week.files["loyalty/loyalty_members_20260101.json"])
    day0 = generate_people(week.settings.people, week.settings.seed)

    joined = (
        loyalty.join(
            truth.filter(source="loyalty"),
            left_on="memberId",
            right_on="source_record_id",
            validate="1:1",
        )
        .join(day0, on="person_id", suffix="_true")
        .select("phone_true", "email_true", normalise.phone_e164("phone"), normalise.email("email"))
    )
    with_phone = joined.filter(pl.col("phone").is_not_null())
    assert (with_phone["phone"] == with_phone["phone_true"]).all()
    # Typos (2%, and people enrolled twice) make a few emails differ, never most.
    assert 0.85 < (joined["email"] == joined["email_true"]).mean() < 1.0  # type: ignore[operator]


def test_truth_covers_every_identified_row_once(week: World) -> None:
    truth = week.truth(FAMILY)
    people = set(week.people["person_id"])

    assert truth.select("source", "source_record_id").is_unique().all()
    assert set(truth["person_id"]) <= people
    for key, data in week.files.items():
        source = key.split("/")[0]
        if source in ID_COLUMNS:
            ids = set(parse(key, data)[ID_COLUMNS[source]])
            assert ids <= set(truth.filter(pl.col("source") == source)["source_record_id"]), key
    # Truth for an id arrives with the first file that carries it, and only then.
    legacy_days = [len(e[FAMILY].truth.filter(source="legacy")) for e in week.emissions]
    assert legacy_days[0] > 0
    assert legacy_days[1:] == [0] * 7


def test_products_are_the_orders_catalog(settings_at: Callable[..., Settings]) -> None:
    world = live(settings_at("shop"), 3, [CrmSource(), OrdersSource(), VendorFilesSource()])

    def catalog(day: int) -> pl.DataFrame:
        path = world.settings.sources_dir / "world" / CATALOG_STATE / f"day={day:04d}.parquet"
        return pl.read_parquet(path).sort("sku")

    feeds = [
        parse("x.parquet", world.files[f"products/product_feed_2026010{day}.parquet"])
        for day in (1, 2, 3)
    ]
    assert all(feed["sku"].equals(catalog(2)["sku"]) for feed in feeds)
    # Day 2's feed is the shop's catalog as it stood at the end of day 1, in the feed's style.
    assert (
        feeds[2]
        .drop("in_stock")
        .equals(
            catalog(1).select(
                "sku",
                "name",
                pl.col("category").str.to_titlecase(),
                price=(pl.col("price") / 100).round(2),
            )
        )
    )
    assert feeds[2]["category"].str.contains(r"^[A-Z][a-z]+$").all()


def test_malformed_files_fail_to_parse_and_the_rest_still_does(
    settings_at: Callable[..., Settings],
) -> None:
    world = faulty(settings_at, "malformed_files")
    files, manifest = world.files, world.manifest(FAMILY)

    broken = {key.removesuffix(MALFORMED_SUFFIX) for key in manifest if MALFORMED_SUFFIX in key}
    assert broken == {
        "loyalty/loyalty_members_20260102_resend.json",
        "marketing/Marketing_List_2026-01-02_corrected.csv",
        "legacy/export_0001_retry.xml",
    }
    with pytest.raises(json.JSONDecodeError):
        parse("x.json", files["loyalty/loyalty_members_20260102_resend.json"])
    with pytest.raises(csv.Error):
        parse("x.csv", files["marketing/Marketing_List_2026-01-02_corrected.csv"])
    with pytest.raises(ET.ParseError):
        parse("x.xml", files["legacy/export_0001_retry.xml"])
    for key in broken:
        # The rows it was meant to carry: at least 10, and a lenient reader sees some of them.
        rows = manifest[key + MALFORMED_SUFFIX][0]
        assert rows >= 10
        assert files[key].count(b"SP4" if "loyalty" in key else b"\n") >= rows // 2
    for key in set(files) - broken:
        assert parse(key, files[key]).height == manifest[key][0]
    # Ids only a broken file carried get no truth: nobody can read them.
    truth_day1 = world.emissions[1][FAMILY].truth
    good_ids = set(parse("x.json", files["loyalty/loyalty_members_20260102.json"])["memberId"])
    assert set(truth_day1["source_record_id"]) <= good_ids


def test_schema_drift_changes_each_feed_on_the_fault_day_only(
    settings_at: Callable[..., Settings],
) -> None:
    world = faulty(settings_at, "schema_drift", day=0)
    files = world.files

    loyalty = json.loads(files["loyalty/loyalty_members_20260101.json"])["members"]
    assert all(isinstance(m["points"], str) for m in loyalty)
    assert any("," in m["points"] for m in loyalty)
    headers = csv_rows(files["marketing/Marketing_List_2026-01-01.csv"])[0].keys()
    assert "Email" in headers
    assert "E-mail Address" not in headers
    legacy = parse("x.xml", files["legacy/export_0001.xml"])
    assert set(legacy["segment"]) == {"RETAIL", "TRADE", "STAFF"}
    assert "brand" in parse("x.parquet", files["products/product_feed_20260101.parquet"]).columns

    after = json.loads(files["loyalty/loyalty_members_20260102.json"])["members"]
    assert all(isinstance(m["points"], int) for m in after)
    assert "brand" not in parse("x.parquet", files["products/product_feed_20260102.parquet"])


@pytest.mark.parametrize("day", [0, 1])
def test_null_and_duplicate_keys_on_the_fault_day(
    settings_at: Callable[..., Settings], day: int
) -> None:
    world = faulty(settings_at, *ALL_KEY_FAULTS, day=day)
    truth = world.truth(FAMILY)
    stamp = f"2026010{day + 1}"
    faulty_files = [
        f"loyalty/loyalty_members_{stamp}.json",
        f"products/product_feed_{stamp}.parquet",
    ]
    if day == 0:
        faulty_files += ["marketing/Marketing_List_2026-01-01.csv", "legacy/export_0001.xml"]

    for key, data in world.files.items():
        rows = parse(key, data)
        key_column = ID_COLUMNS.get(key.split("/")[0], "sku")
        ids = rows[key_column].replace("", None)
        if key in faulty_files:
            assert ids.null_count() >= 1, key
            assert ids.drop_nulls().is_duplicated().any(), key
        else:
            assert ids.null_count() == 0, key
            assert ids.is_unique().all(), key
    assert truth["source_record_id"].null_count() == 0
    assert truth.select("source", "source_record_id").is_unique().all()


def test_a_record_first_carried_without_its_key_is_announced_later(
    settings_at: Callable[..., Settings],
) -> None:
    clean = faulty(settings_at, day=0, days=8)
    lost = faulty(settings_at, "null_keys", day=0, days=8)

    expected = clean.emissions[0][FAMILY].truth
    announced = lost.emissions[0][FAMILY].truth
    missing = expected.join(announced, on=["source", "source_record_id"], how="anti")
    assert set(missing["source"]) == {"loyalty", "marketing", "legacy"}
    assert missing.height <= 0.02 * expected.height
    # The next full list (Monday, day 4) and export (day 7) carry them with their ids; a
    # loyalty member comes back only if a later delta carries them.
    resent = missing.filter(pl.col("source") != "loyalty")
    assert resent.join(
        lost.truth(FAMILY), on=["source", "source_record_id", "person_id"]
    ).height == (resent.height)
    assert lost.truth(FAMILY).height <= clean.truth(FAMILY).height


@pytest.mark.integration
def test_drops_land_in_s3_as_they_do_on_disk(
    settings_at: Callable[..., Settings], s3_server: S3Server
) -> None:
    on_disk = live(settings_at("disk"), 2, [VendorFilesSource(), TicketsSource()])
    in_s3 = live(
        settings_at(
            "s3",
            sources=SourceSettings(landing=s3_server.unique_prefix()),
            catalog=CatalogSettings(s3=s3_server.s3_settings()),
        ),
        2,
        [VendorFilesSource(), TicketsSource()],
    )

    assert in_s3.files == on_disk.files
    assert len(in_s3.files) == 8
    assert not (in_s3.settings.sources_dir / "landing").exists()
