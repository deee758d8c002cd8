"""SQL text for the DuckDB twins: quoted names and literals, and the order rows arrived in."""

# A column numbering rows in the order they came, for the ties Polars settles by row order
# (SQL keeps that order through scans, filters, `UNION ALL` and `OVER ()`, and no further).
INPUT_ORDER = "_input_order"
NUMBERED = f"row_number() OVER () AS {INPUT_ORDER}"


def quoted(name: str) -> str:
    """`name` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """`value` as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def names(columns: list[str]) -> str:
    """`columns` as a comma-separated list of identifiers."""
    return ", ".join(quoted(c) for c in columns)
