"""Parsing landed files: each format's quirks, what each column arrived as, unsafe XML."""

from __future__ import annotations

import io
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from pyiceberg.types import DoubleType, LongType, StringType

from flows.file_formats import MalformedFileError, file_format, parse_file

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<customers><customer id="1"><name>&lol9;</name></customer></customers>
"""


def external_entity(path: str) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE customers [<!ENTITY secret SYSTEM "file://{path}">]>
<customers><customer id="1"><name>&secret;</name></customer></customers>
""".encode()


def frame(data: pa.Table) -> pl.DataFrame:
    result = pl.from_arrow(data)
    assert isinstance(result, pl.DataFrame)
    return result


def test_csv_honours_the_bom_crlf_and_quoted_commas() -> None:
    data = '\ufeffContact ID,Full Name,Phone\r\nMKT-1,"Lloyd, Phillip",\r\nMKT-2,Ann Lee,555\r\n'

    parsed = parse_file("marketing/list.csv", data.encode())

    assert [c.name for c in parsed.columns] == ["Contact ID", "Full Name", "Phone"]
    assert {c.kind for c in parsed.columns} == {"string"}
    # An empty CSV field is the empty text that arrived: a CSV has no null.
    assert frame(parsed.data).rows() == [
        ("MKT-1", "Lloyd, Phillip", ""),
        ("MKT-2", "Ann Lee", "555"),
    ]


def test_csv_with_semicolons_is_read_by_its_header() -> None:
    parsed = parse_file("x.csv", b"a;b\n1;2,5\n")

    assert frame(parsed.data).rows() == [("1", "2,5")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'a,b\n1,"open\n2,3\n', "invalid CSV"),
        (b"a,b\n1,2,3\n", "record 1 has 3 fields, the header 2"),
        (b"", "no header row"),
        (b"a,a\n1,2\n", "column names repeat: ['a']"),
        (b"a,b\n\xff\xfe,1\n", "not UTF-8"),
    ],
)
def test_broken_csv_is_malformed_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedFileError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_file("x.csv", data)


def test_json_keeps_values_as_text_and_records_their_json_types() -> None:
    data = (
        b'{"partner": "P", "recordCount": 2, "members": ['
        b'{"id": "A", "points": 1234, "ok": true, "tags": ["x"], "phone": null},'
        b'{"id": "B", "points": "1,234", "ok": false, "extra": 1.5}]}'
    )

    parsed = parse_file("loyalty/m.json", data)

    kinds = {c.name: c.kind for c in parsed.columns}
    assert kinds == {
        "id": "string",
        "points": "integer|string",
        "ok": "boolean",
        "tags": "array",
        "phone": "null",
        "extra": "number",
    }
    assert all(c.type == StringType() for c in parsed.columns)
    assert frame(parsed.data).rows() == [
        ("A", "1234", "true", '["x"]', None, None),
        ("B", "1,234", "false", None, None, "1.5"),
    ]
    assert parsed.header == {"partner": "P", "recordCount": "2"}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"members": [{"id": "A"}, {"id": "B"', "invalid JSON"),
        (b'{"recordCount": 3, "members": [{"id": "A"}]}', "says it holds 3 records"),
        (b'{"a": [{"id": 1}], "b": [{"id": 2}]}', "no single array of records"),
        (b'[{"id": 1}, 2]', "record 2 is not an object"),
        (b'"text"', "neither an array of records nor an object"),
    ],
)
def test_broken_json_is_malformed_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedFileError, match=reason):
        parse_file("x.json", data)


def test_json_lines_skip_blank_lines_and_reject_a_broken_one() -> None:
    parsed = parse_file("t.jsonl", b'{"id": "T1", "n": 1}\n\n{"id": "T2"}\n')
    assert frame(parsed.data).rows() == [("T1", "1"), ("T2", None)]

    with pytest.raises(MalformedFileError, match="invalid JSON on line 2"):
        parse_file("t.jsonl", b'{"id": "T1"}\n{"id": "T2", "body": "cut off\n')


def test_xml_records_flatten_attributes_and_children_with_their_paths() -> None:
    data = b"""<?xml version="1.0" encoding="UTF-8"?>
<customers exported="2026-01-01" count="2">
  <customer id="0010001">
    <name>Lloyd, Phillip &amp; Co</name>
    <contact email="p@x.com" phone="626-159-2858"/>
    <since>15.09.2005</since>
  </customer>
  <customer>
    <name>OBRIEN, KARREN</name>
    <contact phone="13175578358"/>
    <since></since>
  </customer>
</customers>
"""
    parsed = parse_file("legacy/export_0001.xml", data)

    assert [(c.name, c.kind) for c in parsed.columns] == [
        ("id", "@id"),
        ("name", "name"),
        ("email", "contact/@email"),
        ("phone", "contact/@phone"),
        ("since", "since"),
    ]
    assert frame(parsed.data).rows() == [
        ("0010001", "Lloyd, Phillip & Co", "p@x.com", "626-159-2858", "15.09.2005"),
        (None, "OBRIEN, KARREN", None, "13175578358", ""),
    ]
    assert parsed.header == {"exported": "2026-01-01", "count": "2"}


def test_xml_with_a_billion_laughs_is_refused_without_expanding_it() -> None:
    started = time.perf_counter()

    with pytest.raises(MalformedFileError, match="unsafe XML refused"):
        parse_file("legacy/bomb.xml", BILLION_LAUGHS)

    assert time.perf_counter() - started < 1


def test_xml_with_an_external_entity_is_refused_without_reading_it(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("c360-secret-token")

    with pytest.raises(MalformedFileError, match="unsafe XML refused") as refused:
        parse_file("legacy/xxe.xml", external_entity(str(secret)))

    assert "c360-secret-token" not in str(refused.value)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<customers><customer><name>A & B</name></customer>", "invalid XML"),
        (b'<customers count="2"><customer id="1"/></customers>', "says it holds 2 records"),
    ],
)
def test_broken_xml_is_malformed_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedFileError, match=reason):
        parse_file("x.xml", data)


def test_parquet_keeps_its_own_types() -> None:
    out = io.BytesIO()
    pl.DataFrame(
        {"sku": ["S1", "S2"], "price": [1.5, None], "qty": [1, 2], "tags": [["a"], []]}
    ).write_parquet(out)

    parsed = parse_file("products/feed.parquet", out.getvalue())

    assert [(c.name, c.type) for c in parsed.columns] == [
        ("sku", StringType()),
        ("price", DoubleType()),
        ("qty", LongType()),
        ("tags", StringType()),  # a list: Iceberg-typed raw has no place for it but JSON text
    ]
    assert [c.kind for c in parsed.columns][:3] == ["string", "double", "int64"]
    assert frame(parsed.data).rows() == [("S1", 1.5, 1, '["a"]'), ("S2", None, 2, "[]")]


def test_unknown_file_types_and_broken_parquet_are_malformed() -> None:
    assert file_format("products/feed.PARQUET") == "parquet"
    assert file_format("loyalty/_SUCCESS") is None
    with pytest.raises(MalformedFileError, match="unsupported file type"):
        parse_file("loyalty/readme.txt", b"hello")
    with pytest.raises(MalformedFileError, match="invalid Parquet"):
        parse_file("products/feed.parquet", b"PAR1 not really")
