"""`contracts.check` in Spark charges each row to the rule Polars charges it to, with the
same column and the same value text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from catalog.contracts.model import ColumnType
from catalog.contracts.rules import PATTERNS, Rule, RuleKind
from tests.transforms.spark.twins import arrow, spark_arrow, to_spark
from transforms.engines import COLUMN, RULE, VALUE, check

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CHARGED = ["row", RULE, COLUMN, VALUE]


def _charges(spark: SparkSession, frame: pl.DataFrame, rules: tuple[Rule, ...]) -> pa.Table:
    """Each row's charge by both engines (after checking that Spark keeps the columns)."""
    by_polars = arrow(check("polars", frame.lazy(), rules))
    by_spark = spark_arrow(check("spark", to_spark(spark, frame), rules))
    assert by_spark.column_names == by_polars.column_names == [*frame.columns, RULE, COLUMN, VALUE]
    by_polars, by_spark = (t.select(CHARGED).sort_by("row") for t in (by_polars, by_spark))
    assert by_spark.to_pylist() == by_polars.to_pylist()
    return by_spark


def test_file_drop_rows_are_charged_alike(spark: SparkSession) -> None:
    # A file drop's text columns, as the loyalty contract checks them, and one column that
    # no file delivered (`nickname`): checked as nulls.
    rules = (
        Rule(RuleKind.PRIMARY_KEY, "memberId"),
        Rule(RuleKind.DUPLICATE_KEY, "memberId", compared=("email", "points", "tier", "gone")),
        Rule(RuleKind.NOT_NULL, "email"),
        Rule(RuleKind.TYPE, "points", pattern=PATTERNS[ColumnType.LONG]),
        Rule(RuleKind.TYPE, "price", pattern=PATTERNS[ColumnType.DECIMAL]),
        Rule(RuleKind.TYPE, "ratio", pattern=PATTERNS[ColumnType.DOUBLE]),
        Rule(RuleKind.TYPE, "joined", pattern=PATTERNS[ColumnType.DATE]),
        Rule(RuleKind.TYPE, "seen_at", pattern=PATTERNS[ColumnType.TIMESTAMP]),
        Rule(RuleKind.TYPE, "opted_in", pattern=PATTERNS[ColumnType.BOOLEAN]),
        Rule(RuleKind.ACCEPTED_VALUES, "tier", accepted=("Gold", "Silver", "Blue")),
        Rule(RuleKind.ACCEPTED_VALUES, "nickname", accepted=("x",)),
        Rule(RuleKind.NOT_NULL, "nickname"),
    )
    good = {
        "email": "a@example.com",
        "points": "12",
        "price": "9.99",
        "ratio": "1e-3",
        "joined": "2026-01-01",
        "seen_at": "2026-01-01T10:00:00Z",
        "opted_in": "true",
        "tier": "Gold",
    }
    rows: list[dict[str, object]] = []

    def add(
        key: str | None, position: str | None = None, batch: str | None = "b1", **change: str | None
    ) -> None:
        at = position or str(len(rows))
        row = {"row": len(rows), "memberId": key, "_batch_id": batch, "_source_position": at}
        rows.append({**row, **good, **change})

    for blank in (None, "", " ", "\u00a0", "\u3000\t"):
        add(blank)
    add("\u200b")  # not white space: a key
    # Same key in one batch: the first by position (by number: 9 before 10) is the original.
    add("M1", "10", tier="Silver")
    add("M1", "9")
    add("M1", "11")  # equal to the original: a repeated delivery
    add("M1", "1", batch="b2", tier="Blue")  # another batch
    add("M2", "20", email=None)
    add("M2", "21", email=None)  # nulls equal nulls
    add("M2", "22", email="x@example.com")
    # Text a type rule would read otherwise in Java unless spelled for it (`$`, `\d`, `\s`).
    odd: dict[str, list[str | None]] = {
        "points": ["+5", " 12 ", "12\n", "\u0661\u0662", " 12\u00a0", "1,234"],
        "price": [".5", "5.", "1e3", "\u0665.0", "-0.00", "$5"],
        "ratio": ["1E+10", "-.5e-3", "inf", "NaN", "1e"],
        "joined": ["2026-01-01\n", "2026-1-1", "\u0662026-01-01", "01/02/2026"],
        "seen_at": ["2026-01-01 10:00", "2026-01-01T10:00:00.123+0100", "2026-01-01T10:00\n"],
        "opted_in": ["Yes", "TRUE"],
        "tier": ["gold", None],
        "email": [" \t"],
    }
    for column, values in odd.items():
        for value in values:
            add(f"{column}-{value!r}", **{column: value})

    charged = _charges(spark, pl.DataFrame(rows, schema_overrides={"memberId": pl.String}), rules)

    # Every kind of rule charged some row; the rows with nothing wrong were charged to the
    # column no file delivered.
    assert set(charged[RULE].to_pylist()) == {r.name for r in rules}


def test_a_delete_breaks_only_the_primary_key(spark: SparkSession) -> None:
    rules = (
        Rule(RuleKind.PRIMARY_KEY, "order_id"),
        Rule(RuleKind.DUPLICATE_KEY, "order_id", compared=("status",)),
        Rule(RuleKind.NOT_NULL, "status"),
        Rule(RuleKind.ACCEPTED_VALUES, "status", accepted=("placed", "shipped")),
    )
    rows = [
        ("O1", "placed", "insert"),
        ("O1", None, "delete"),
        (" ", None, "delete"),
        ("O2", None, "update"),
        ("O3", "lost", None),
        ("O4", "lost", "delete"),
    ]
    frame = pl.DataFrame(
        [
            # A batch each: CDC rows have no position to tell which of a batch came first.
            {"row": i, "order_id": k, "status": s, "_cdc_operation": op, "_batch_id": f"b{i}"}
            for i, (k, s, op) in enumerate(rows)
        ]
    ).with_columns(_source_position=pl.lit(None, pl.String))

    charged = _charges(spark, frame, rules)

    assert charged[RULE].to_pylist() == [
        None,
        None,
        "primary_key",
        "not_null",
        "accepted_values",
        None,
    ]


def test_typed_values_are_written_as_polars_writes_them(spark: SparkSession) -> None:
    # Each row holds one value; a rule nothing passes charges it, with its text.
    doubles: list[object] = [
        0.0, -0.0, 1.5, 0.1, 0.30000000000000004, 1e-3, 1.5e-4, 1e-4, 1e-5, 1.5e-5, 9.99e-6,
        1e-7, -2.5e-8, 1e7, 12345678.9, 123456789012.5, 1e15, 9999999999999998.0,
        1e16, -1.5e16, 1e21, 1.7976931348623157e308, float("inf"), float("-inf"), float("nan"),
    ]  # fmt: skip
    # Not here: doubles Java 17 writes with a digit more than the shortest (~2% of those of
    # 1e16 or more, and 5e-324), a difference Java 19 fixed (JDK-4511638).
    values: dict[str, tuple[pa.DataType, list[object]]] = {
        "double": (pa.float64(), doubles),
        "timestamp": (
            pa.timestamp("us", "UTC"),
            [datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(1999, 12, 31, tzinfo=UTC)],
        ),
        "naive_timestamp": (pa.timestamp("us"), [datetime(2026, 1, 2, 3, 4, 5, 600000)]),
        "date": (pa.date32(), [date(2026, 1, 2)]),
        "money": (pa.decimal128(12, 2), [Decimal("0.00"), Decimal("-12.30"), Decimal("1E+9")]),
        "integer": (pa.int32(), [0, -7]),
        "long": (pa.int64(), [2**63 - 1]),
        "flag": (pa.bool_(), [True, False]),
    }
    columns: dict[str, list[object]] = {"row": [], **{name: [] for name in values}}
    for name, (_, column_values) in values.items():
        for value in column_values:
            columns["row"].append(len(columns["row"]))
            for other in values:
                columns[other].append(value if other == name else None)
    table = pa.table(
        {"row": columns["row"], **{n: pa.array(columns[n], t) for n, (t, _) in values.items()}}
    )
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)

    charged = _charges(
        spark, frame, tuple(Rule(RuleKind.ACCEPTED_VALUES, n, accepted=()) for n in values)
    )
    assert "1e+16" in charged[VALUE].to_pylist()

    # And a decimal pattern reads a typed double as Polars writes it (`10000000.0`).
    _charges(spark, frame, (Rule(RuleKind.TYPE, "double", pattern=PATTERNS[ColumnType.DECIMAL]),))
