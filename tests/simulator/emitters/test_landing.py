"""The landing zone on each backend: a local folder and a real S3 server (SeaweedFS)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from c360.settings import CatalogSettings, S3Settings, Settings, SourceSettings
from simulator.emitters.landing import (
    Landing,
    LandingUnavailableError,
    LocalLanding,
    S3Landing,
    open_landing,
    rows_checksum,
)

if TYPE_CHECKING:
    from tests.conftest import S3Server

DROPS = {
    "loyalty/loyalty_members_20260101.json": b'{"members": []}',
    "loyalty/loyalty_members_20260102.json": b'{"members": [{"memberId": "SP1"}]}',
    "marketing/Marketing_List_2026-01-05.csv": b"\xef\xbb\xbfContact ID\r\nMKT-1\r\n",
    "legacy/export_0001.xml": b"<customers/>",
    "products/product_feed_20260101.parquet": bytes(range(256)) * 64,
}


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def landing_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Settings:
    """Settings whose landing zone is an empty folder, or an empty prefix in a bucket."""
    if request.param == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        return make_settings(
            sources=SourceSettings(landing=s3.unique_prefix()),
            catalog=CatalogSettings(s3=s3.s3_settings()),
        )
    return make_settings()


@pytest.fixture
def landing(landing_settings: Settings) -> Landing:
    return open_landing(landing_settings)


def test_open_landing_picks_the_backend_from_the_url(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    local = open_landing(make_settings())
    s3 = open_landing(
        make_settings(
            sources=SourceSettings(landing="s3://drops-bucket/vendor/in"),
            catalog=CatalogSettings(s3=S3Settings(endpoint="http://127.0.0.1:1", region="x")),
        )
    )

    assert isinstance(local, LocalLanding)
    assert local.folder == (tmp_path / "sources" / "landing").resolve()
    assert isinstance(s3, S3Landing)
    assert (s3.bucket, s3.prefix, s3.location) == (
        "drops-bucket",
        "vendor/in/",
        "s3://drops-bucket/vendor/in/",
    )
    assert s3.endpoint == "http://127.0.0.1:1"


def test_files_round_trip(landing: Landing) -> None:
    for key, data in DROPS.items():
        landing.put(key, data)

    assert landing.list() == sorted(DROPS)
    assert {key: landing.get(key) for key in landing.list()} == DROPS


def test_list_filters_by_key_prefix(landing: Landing) -> None:
    for key, data in DROPS.items():
        landing.put(key, data)

    assert landing.list("loyalty/") == [
        "loyalty/loyalty_members_20260101.json",
        "loyalty/loyalty_members_20260102.json",
    ]
    # A prefix is a string prefix of the key, as on S3, not only a folder.
    assert landing.list("loyalty/loyalty_members_2026010") == landing.list("loyalty/")
    assert landing.list("loyalty/loyalty_members_20260102") == [
        "loyalty/loyalty_members_20260102.json"
    ]
    assert landing.list("legacy") == ["legacy/export_0001.xml"]
    assert landing.list("nothing/") == []


def test_put_replaces_a_file_whole(landing: Landing) -> None:
    key = "tickets/tickets_20260101.jsonl"
    landing.put(key, b'{"ticket_id": "T1"}\n' * 1000)
    landing.put(key, b'{"ticket_id": "T2"}\n')

    assert landing.get(key) == b'{"ticket_id": "T2"}\n'
    assert landing.list() == [key]


def test_move_sets_a_file_aside(landing: Landing) -> None:
    landing.put("legacy/export_0002.xml", b"<customers>")

    landing.move("legacy/export_0002.xml", "_quarantine/legacy/export_0002.xml")

    assert landing.list() == ["_quarantine/legacy/export_0002.xml"]
    assert landing.get("_quarantine/legacy/export_0002.xml") == b"<customers>"
    with pytest.raises(FileNotFoundError, match=r"export_0002\.xml"):
        landing.get("legacy/export_0002.xml")


def test_missing_files_raise_file_not_found(landing: Landing) -> None:
    with pytest.raises(FileNotFoundError, match=r"no legacy/export_0009\.xml"):
        landing.get("legacy/export_0009.xml")
    with pytest.raises(FileNotFoundError):
        landing.move("legacy/export_0009.xml", "_quarantine/legacy/export_0009.xml")


@pytest.mark.parametrize("key", ["", "/abs.json", "a/../b.json", "a//b.json", ".hidden", "a/.b"])
def test_bad_keys_are_refused(landing: Landing, key: str) -> None:
    with pytest.raises(ValueError, match="bad landing key"):
        landing.put(key, b"x")


def test_local_put_leaves_no_partial_file(tmp_path: Path) -> None:
    landing = LocalLanding(tmp_path / "landing")
    landing.put("loyalty/a.json", b"{}")
    # A writer that died mid-file leaves a hidden partial: never listed.
    (tmp_path / "landing" / "loyalty" / ".b.json.x1y2").write_bytes(b"{")

    assert landing.list() == ["loyalty/a.json"]
    assert sorted(p.name for p in (tmp_path / "landing" / "loyalty").iterdir()) == [
        ".b.json.x1y2",
        "a.json",
    ]


def test_local_landing_that_cannot_be_created_raises_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    with pytest.raises(LandingUnavailableError) as raised:
        LocalLanding(blocker / "landing").put("a.json", b"{}")

    assert "C360_SOURCES__LANDING" in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.integration
def test_s3_landing_writes_into_the_bucket_under_its_prefix(s3_server: S3Server) -> None:
    prefix = s3_server.unique_prefix().removeprefix(f"s3://{s3_server.bucket}/")
    landing = S3Landing(s3_server.bucket, prefix, s3_server.s3_settings())

    landing.put("products/product_feed_20260101.parquet", b"PAR1")

    listing = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix)
    assert [o["Key"] for o in listing["Contents"]] == [
        f"{prefix}/products/product_feed_20260101.parquet"
    ]


@pytest.mark.integration
def test_missing_bucket_raises_a_one_line_error(s3_server: S3Server) -> None:
    landing = S3Landing("no-such-landing-bucket", "drops", s3_server.s3_settings())

    # Listing, as an ingestion scan does first (SeaweedFS creates a bucket on a first PUT).
    with pytest.raises(LandingUnavailableError) as raised:
        landing.list()

    assert "no-such-landing-bucket does not exist" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_unreachable_s3_raises_a_one_line_error() -> None:
    # A bound socket that never listens: connecting to it is refused, deterministically.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
        landing = S3Landing(
            "c360-landing", "drops", S3Settings(endpoint=endpoint, region="us-east-1")
        )

        with pytest.raises(LandingUnavailableError) as raised:
            landing.list()

    assert "cannot reach the landing zone s3://c360-landing/drops/" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_rows_checksum_ignores_row_order_column_order_and_types() -> None:
    rows = pl.DataFrame({"id": ["b", "a", None], "points": [2, 10, 3], "tier": ["x", None, "z"]})
    as_text = rows.select(
        "tier", pl.col("points").cast(pl.String), pl.col("id").fill_null("")
    ).reverse()

    assert rows_checksum(rows) == rows_checksum(as_text)
    assert rows_checksum(rows) != rows_checksum(rows.with_columns(points=pl.lit(2)))
    assert rows_checksum(rows) != rows_checksum(rows.rename({"tier": "level"}))
    assert rows_checksum(rows) != rows_checksum(rows.head(2))
