"""The email-only exact-match baseline."""

from __future__ import annotations

import polars as pl

from transforms.identity.baseline import email_only


def _records(rows: list[tuple[str, str, str | None]]) -> pl.DataFrame:
    """(source, source_record_id, email) rows."""
    return pl.DataFrame(
        rows,
        schema={"source": pl.String, "source_record_id": pl.String, "email": pl.String},
        orient="row",
    )


def _keys(records: pl.DataFrame) -> dict[tuple[str, str], int]:
    result = email_only(records)
    assert result.schema == pl.Schema(
        {"source": pl.String, "source_record_id": pl.String, "customer_key": pl.Int64}
    )
    return {(s, r): k for s, r, k in result.iter_rows()}


def test_emails_match_whatever_their_case_and_spacing() -> None:
    records = _records(
        [
            ("crm", "1", "Ann@Example.com"),
            ("web", "7", "  ann@example.COM "),
            ("orders", "3", "ann@example.com"),
            ("crm", "2", "bob@example.com"),
        ]
    )

    assert _keys(records) == {
        ("crm", "1"): 1,
        ("crm", "2"): 2,
        ("orders", "3"): 1,
        ("web", "7"): 1,
    }


def test_records_without_an_email_stay_alone() -> None:
    records = _records(
        [
            ("crm", "1", None),
            ("crm", "2", None),
            ("crm", "3", "   "),
            ("crm", "4", ""),
            ("web", "1", "ann@example.com"),
        ]
    )

    assert _keys(records) == {
        ("crm", "1"): 1,
        ("crm", "2"): 2,
        ("crm", "3"): 3,
        ("crm", "4"): 4,
        ("web", "1"): 5,
    }


def test_keys_follow_each_clusters_first_record_whatever_the_input_order() -> None:
    rows: list[tuple[str, str, str | None]] = [
        ("web", "2", "zed@example.com"),
        ("crm", "9", "amy@example.com"),
        ("crm", "1", "zed@example.com"),
        ("web", "1", None),
        ("crm", "5", "amy@example.com"),
    ]
    # zed's first record is crm:1, amy's is crm:5, then the email-less web:1.
    expected = {
        ("crm", "1"): 1,
        ("crm", "5"): 2,
        ("crm", "9"): 2,
        ("web", "1"): 3,
        ("web", "2"): 1,
    }

    assert _keys(_records(rows)) == expected
    assert _keys(_records(rows[::-1])) == expected
    assert email_only(_records(rows)).equals(email_only(_records(rows[::-1])))
