"""Landed files parsed safely into Arrow, with the schema each file carries (a crawler's job).

The parser is chosen by the key's extension: JSON (an array of records, or an object holding
one), JSON lines, CSV (Excel's BOM, CRLF and quoted commas; the delimiter read off the
header), XML (through defusedxml with DTDs refused, so no entity is ever expanded and no
external one fetched) and Parquet.

What raw keeps: a text format's values carry no type that survives the trip (a CSV has none,
and a vendor's JSON number is a formatted string next month), so every value from JSON, CSV
and XML is kept as the text it arrived as: JSON numbers and booleans as their JSON text,
nested values as JSON, empty CSV fields as "" (a CSV has no null). Parquet keeps its own
types. Each column's `kind` says what it arrived as (its JSON type, its place in the XML
record, its Parquet type); schema drift is judged on those.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
    TimeType,
)

FORMATS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".xml": "xml",
    ".parquet": "parquet",
}
# A column whose every value is null says nothing about its type.
NULL_KIND = "null"
# Header fields in which vendors state how many records a file holds.
COUNT_FIELDS = ("recordCount", "record_count", "rowCount", "row_count", "count")
CSV_DELIMITERS = (",", ";", "\t", "|")


class MalformedFileError(ValueError):
    """The file cannot be read as its format; the message is the reason for the ledger."""


@dataclass(frozen=True)
class FileColumn:
    """One column of a file: its name there, what it arrived as, and how raw stores it."""

    name: str
    kind: str
    type: IcebergType


@dataclass(frozen=True)
class ParsedFile:
    """A file's records (one Arrow column per `FileColumn`, in file order) and its metadata.

    `header` holds what the file says about itself outside its records: a JSON envelope's
    scalar fields, an XML root's attributes.
    """

    file_format: str
    columns: tuple[FileColumn, ...]
    data: pa.Table
    header: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.data.num_rows


def file_format(key: str) -> str | None:
    """The format a landing key's extension names, or None if it names none we read."""
    return FORMATS.get(PurePosixPath(key).suffix.lower())


def parse_file(key: str, data: bytes) -> ParsedFile:
    """Parse a landed file by its extension.

    Raises:
        MalformedFileError: the format is unknown, or the bytes are not a well-formed file of
            it (truncated, badly quoted, unsafe XML, rows that disagree with the header...).
    """
    fmt = file_format(key)
    if fmt is None:
        suffix = PurePosixPath(key).suffix or "(none)"
        raise MalformedFileError(
            f"unsupported file type {suffix}: expected one of {sorted(FORMATS)}"
        )
    parsed = PARSERS[fmt](data)
    _check_columns(parsed.columns)
    _check_count(parsed)
    return parsed


# --- JSON and JSON lines ----------------------------------------------------------------------


def parse_json(data: bytes) -> ParsedFile:
    """An array of record objects, or an object whose one array of objects is the records
    (its other scalar fields become the header)."""
    try:
        document = json.loads(_text(data))
    except (ValueError, RecursionError) as exc:
        raise MalformedFileError(f"invalid JSON: {_one_line(exc)}") from exc
    header: dict[str, str] = {}
    if isinstance(document, list):
        records = document
    elif isinstance(document, dict):
        arrays = [k for k, v in document.items() if isinstance(v, list) and _all_objects(v)]
        if len(arrays) != 1:
            raise MalformedFileError(
                "JSON object holds no single array of records "
                f"(arrays of objects: {arrays or 'none'})"
            )
        records = document[arrays[0]]
        header = {
            k: v if isinstance(v, str) else json.dumps(v)
            for k, v in document.items()
            if k != arrays[0] and not isinstance(v, dict | list) and v is not None
        }
    else:
        raise MalformedFileError("JSON holds neither an array of records nor an object")
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise MalformedFileError(f"JSON record {number} is not an object")
    return _from_records("json", records, header)


def parse_json_lines(data: bytes) -> ParsedFile:
    """One JSON object a line; blank lines are skipped."""
    records = []
    for number, line in enumerate(_text(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise MalformedFileError(f"invalid JSON on line {number}: {_one_line(exc)}") from exc
        if not isinstance(record, dict):
            raise MalformedFileError(f"line {number} is not a JSON object")
        records.append(record)
    return _from_records("jsonl", records, {})


def _from_records(fmt: str, records: list[dict[str, Any]], header: dict[str, str]) -> ParsedFile:
    names = list(dict.fromkeys(name for record in records for name in record))
    columns = []
    arrays = []
    for name in names:
        values = [record.get(name) for record in records]
        kinds = {_json_kind(v) for v in values if v is not None}
        columns.append(FileColumn(name, "|".join(sorted(kinds)) or NULL_KIND, StringType()))
        arrays.append(pa.array([_json_text(v) for v in values], pa.string()))
    return ParsedFile(fmt, tuple(columns), _table(names, arrays, len(records)), header)


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def _json_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _all_objects(values: list[Any]) -> bool:
    return all(isinstance(v, dict) for v in values)


# --- CSV -------------------------------------------------------------------------------------


def parse_csv(data: bytes) -> ParsedFile:
    """A header row, then records; quoting errors and ragged rows make the file malformed."""
    text = _text(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max(CSV_DELIMITERS, key=first_line.count)
    # `strict`: a quote left open is an error, not a field that swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise MalformedFileError(f"invalid CSV at line {reader.line_num}: {exc}") from exc
    if not rows:
        raise MalformedFileError("empty CSV: no header row")
    names, records = rows[0], rows[1:]
    for number, record in enumerate(records, start=1):
        if len(record) != len(names):
            raise MalformedFileError(
                f"CSV record {number} has {len(record)} fields, the header {len(names)}"
            )
    arrays = [pa.array([r[i] for r in records], pa.string()) for i in range(len(names))]
    columns = tuple(FileColumn(name, "string", StringType()) for name in names)
    return ParsedFile("csv", columns, _table(names, arrays, len(records)))


# --- XML -------------------------------------------------------------------------------------


def parse_xml(data: bytes) -> ParsedFile:
    """The root's most common child element is the record; its attributes and its children's
    text and attributes are the columns. A column's kind is its path in the record
    (`@id`, `name`, `contact/@email`), so a value that moves is seen to move."""
    try:
        # No DTD at all: a vendor export has no use for one, and refusing it rules out entity
        # expansion (billion laughs) and external entities (file and network reads) alike.
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise MalformedFileError(f"unsafe XML refused: {_one_line(exc)}") from exc
    except ET.ParseError as exc:
        raise MalformedFileError(f"invalid XML: {_one_line(exc)}") from exc
    children = list(root)
    tags = Counter(_local(child.tag) for child in children)
    record_tag = tags.most_common(1)[0][0] if tags else None
    header = {_local(k): v for k, v in root.attrib.items()}
    header |= {
        _local(c.tag): (c.text or "").strip() for c in children if _local(c.tag) != record_tag
    }
    names: dict[str, str] = {}  # path -> column name
    records = [_xml_record(child, names) for child in children if _local(child.tag) == record_tag]
    columns = tuple(FileColumn(name, path, StringType()) for path, name in names.items())
    arrays = [pa.array([r.get(path) for r in records], pa.string()) for path in names]
    return ParsedFile("xml", columns, _table(list(names.values()), arrays, len(records)), header)


def _xml_record(element: ET.Element, names: dict[str, str]) -> dict[str, str]:
    values: dict[str, list[str]] = {}

    def add(path: str, preferred: str, fallback: str, value: str) -> None:
        if path not in names:
            taken = set(names.values())
            names[path] = preferred if preferred not in taken else fallback
        values.setdefault(path, []).append(value)

    for attr, value in element.attrib.items():
        add(f"@{_local(attr)}", _local(attr), f"{_local(element.tag)}_{_local(attr)}", value)
    for child in element:
        tag = _local(child.tag)
        for attr, value in child.attrib.items():
            add(f"{tag}/@{_local(attr)}", _local(attr), f"{tag}_{_local(attr)}", value)
        if len(child):
            add(tag, tag, f"{tag}_xml", ET.tostring(child, encoding="unicode").strip())
        elif child.text is not None or not child.attrib:
            add(tag, tag, f"{tag}_text", child.text or "")
    # A repeated element keeps every value, as a JSON array.
    return {
        p: v[0] if len(v) == 1 else json.dumps(v, ensure_ascii=False) for p, v in values.items()
    }


def _local(tag: str) -> str:
    """A tag or attribute name without its `{namespace}`."""
    return tag.rpartition("}")[2]


# --- Parquet ---------------------------------------------------------------------------------


def parse_parquet(data: bytes) -> ParsedFile:
    """The file's own columns and types; a type Iceberg lacks lands as JSON text."""
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise MalformedFileError(f"invalid Parquet: {_one_line(exc)}") from exc
    columns = []
    arrays = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        kind = _arrow_kind(column.type)
        iceberg = _iceberg_type(column.type)
        if iceberg is None:
            iceberg = StringType()
            column = pa.array(
                [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()],
                pa.string(),
            )
        columns.append(FileColumn(name, NULL_KIND if kind == "null" else kind, iceberg))
        arrays.append(column)
    return ParsedFile("parquet", tuple(columns), _table(table.column_names, arrays, table.num_rows))


def _arrow_kind(arrow: pa.DataType) -> str:
    # Large and small variants are one type to a reader: a writer switching is not drift.
    if pa.types.is_large_string(arrow) or pa.types.is_string_view(arrow):
        return "string"
    if pa.types.is_large_binary(arrow) or pa.types.is_binary_view(arrow):
        return "binary"
    return str(arrow)


def _iceberg_type(arrow: pa.DataType) -> IcebergType | None:
    """The Iceberg type holding `arrow` values losslessly, or None (land as JSON text)."""
    if pa.types.is_boolean(arrow):
        return BooleanType()
    if pa.types.is_int8(arrow) or pa.types.is_int16(arrow) or pa.types.is_int32(arrow):
        return IntegerType()
    if pa.types.is_uint8(arrow) or pa.types.is_uint16(arrow):
        return IntegerType()
    if pa.types.is_int64(arrow) or pa.types.is_uint32(arrow):
        return LongType()
    if pa.types.is_float16(arrow) or pa.types.is_float32(arrow):
        return FloatType()
    if pa.types.is_float64(arrow):
        return DoubleType()
    if pa.types.is_decimal(arrow) and arrow.precision <= 38:
        return DecimalType(arrow.precision, arrow.scale)
    if pa.types.is_date(arrow):
        return DateType()
    if pa.types.is_time(arrow):
        return TimeType()
    if pa.types.is_timestamp(arrow):
        return TimestamptzType() if arrow.tz else TimestampType()
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or arrow == pa.null():
        return StringType()
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return BinaryType()
    if pa.types.is_fixed_size_binary(arrow):
        return FixedType(arrow.byte_width)
    return None


# --- Shared ----------------------------------------------------------------------------------


def _text(data: bytes) -> str:
    try:
        # utf-8-sig: Excel and some JSON exporters start the file with a byte order mark.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedFileError(
            f"not UTF-8 text: byte {exc.object[exc.start]:#04x} at offset {exc.start}"
        ) from exc


def _table(names: list[str], arrays: list[pa.Array | pa.ChunkedArray], rows: int) -> pa.Table:
    if not names:
        # Records without fields still count: keep the row count on a table of no columns.
        return pa.table({"_": pa.nulls(rows)}).drop_columns(["_"])
    table = pa.Table.from_arrays(arrays, names=names)
    return table.cast(pa.schema([f.with_type(_plain(f.type)) for f in table.schema]))


def _plain(arrow: pa.DataType) -> pa.DataType:
    return pa.string() if pa.types.is_large_string(arrow) else arrow


def _check_columns(columns: tuple[FileColumn, ...]) -> None:
    names = [c.name for c in columns]
    if any(not name.strip() for name in names):
        raise MalformedFileError(f"a column has no name (columns: {names})")
    twice = sorted(name for name, n in Counter(names).items() if n > 1)
    if twice:
        raise MalformedFileError(f"column names repeat: {twice}")


def _check_count(parsed: ParsedFile) -> None:
    """A header that states a record count must agree with the records found (a file cut
    off at a record boundary still parses)."""
    for name in COUNT_FIELDS:
        stated = parsed.header.get(name)
        if stated is not None and stated.isdigit() and int(stated) != parsed.rows:
            raise MalformedFileError(
                f"the file says it holds {stated} records ({name}) but holds {parsed.rows}"
            )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


PARSERS = {
    "json": parse_json,
    "jsonl": parse_json_lines,
    "csv": parse_csv,
    "xml": parse_xml,
    "parquet": parse_parquet,
}
