"""The vendor feeds' staging in Spark stages what Polars stages, from an empty or a prior
state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from tests.transforms.frames import empty
from tests.transforms.polars.test_vendor_files import (
    FEEDS,
    _contact,
    _feed_files,
    _legacy,
    _member,
    _product,
    _raw,
    _rows,
)
from tests.transforms.spark.twins import assert_same_rows, run_twins
from transforms.engines import function

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Rows a feed's files may hold besides clean ones: blank ids, every spelling the
# normalisers read, garbage they turn to null, and later rows restating earlier ones.
TRICKY: dict[str, list[dict[str, object]]] = {
    "loyalty": [
        *_rows(
            "loyalty/x.json",
            5,
            [
                _member(None),
                _member(" \u00a0"),
                _member(" SP40000002 ", firstName="SHERYL", lastName="  O'BRIEN-LI "),
                _member("SP7", firstName="McBride", email="\tMC@EXAMPLE.COM\u00a0", points="1,976"),
                _member("SP8", points="2,8380", joinDate="13/45/2024", phone="555-1234"),
                _member("SP9", joinDate="Nov. 20, 2024", points="+12", email="  "),
            ],
        ),
        *_rows("loyalty/y.json", 5, [_member("SP7", tier="Gold")], first_position=10),
    ],
    "marketing": _rows(
        "marketing/x.csv",
        5,
        [
            _contact(" "),
            _contact("MKT-7", Full_Name="O'BRIEN,  MARY-JANE", Opt_In="n", Date_Added="5.1.2024"),
            _contact("MKT-8", Full_Name="Cher", Phone="", Opt_In="maybe", Date_Added=""),
            _contact("MKT-9", Full_Name="  Mary Ann\t LEE ", **{"E-mail Address": None}),
            _contact("MKT-10", Full_Name=", Ada", Lead_Source="  Web\u00a0 Form "),
        ],
    ),
    "legacy": _rows(
        "legacy/x.xml",
        5,
        [
            _legacy("0010002", "OBRIEN, KARREN", "13175578358", "21.08.2015"),
            _legacy("0010003", "O'BRIEN, MARY-JANE", "555-1234", "31.02.2015"),
            _legacy("0010004", "SMITH,", "626-159-2858", "1.2.2003", " X@Y.Z "),
            _legacy("  ", "NOBODY", "", ""),
        ],
    ),
    "products": _rows(
        "products/x.parquet",
        5,
        [_product("APP-9", 1e7), _product(" ", 1.0), _product("APP-8", 0.1 + 0.2, False)],
    ),
}


@pytest.mark.parametrize("feed", FEEDS)
def test_stages_what_polars_stages(spark: SparkSession, feed: str) -> None:
    stage, table, record, schema = FEEDS[feed]
    first, second = _feed_files(record, feed)
    second = [*second, *TRICKY[feed]]
    prior = function("polars", "vendor_files", stage.__name__)(
        empty(table), pl.LazyFrame(first, schema=schema)
    )

    for prior_state, raw in [
        (empty(table), pl.LazyFrame([*first, *second], schema=schema)),
        (prior, pl.LazyFrame(second, schema=schema)),
    ]:
        by_polars, by_spark = run_twins(spark, "vendor_files", stage.__name__, prior_state, raw)

        assert by_spark.column_names == table.column_names
        assert_same_rows(by_polars, by_spark, table)
        assert by_spark.num_rows >= 7


def test_columns_no_file_carried_yet_are_typed_nulls(spark: SparkSession) -> None:
    stage, table, _, _ = FEEDS["products"]
    raw = _raw(_rows("products/x.parquet", 1, [{"sku": "APP-1"}]), ["sku"])

    by_polars, by_spark = run_twins(spark, "vendor_files", stage.__name__, empty(table), raw)

    assert_same_rows(by_polars, by_spark, table)
    assert by_spark.to_pylist()[0]["price"] is None
