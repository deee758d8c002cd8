"""Change-data-capture history to current state."""

import duckdb

from transforms.duckdb.sql import INPUT_ORDER, NUMBERED, literal, names, quoted

DELETE = "delete"
_IS_NEW = "_is_new"


def latest_state(
    prior: duckdb.DuckDBPyRelation,
    history: duckdb.DuckDBPyRelation,
    key: str,
    order_by: list[str],
) -> duckdb.DuckDBPyRelation:
    """The newest version of each `key`, with deleted keys removed.

    Args:
        prior: the current state before `history` (a staging table's rows; may be empty):
            each of its rows is older than every version in `history`.
        history: newly captured versions with a `_cdc_operation` column.
        key: the column identifying an entity.
        order_by: columns ordering versions in `history`, oldest first, nulls first
            (ties broken by the later one: the later row of `history`, as in Polars).

    Applying new history to the prior state gives the same result as applying all history
    to an empty one, which is what makes incremental staging equal a full rebuild.
    """
    # The columns of both, `prior`'s first (Polars' diagonal concatenation); a column one side
    # lacks is null there, and UNION ALL gives each column the type both sides fit.
    columns = [*prior.columns, *(c for c in history.columns if c not in prior.columns)]
    versions = _versions(prior, columns, is_new=False).union(
        _versions(history, columns, is_new=True)
    )
    newest_first = ", ".join(
        [
            f"{_IS_NEW} DESC",
            *(f"{quoted(c)} DESC NULLS LAST" for c in order_by),
            f"{INPUT_ORDER} DESC",
        ]
    )
    return versions.query(
        "versions",
        f"""
        SELECT {names([key, *(c for c in columns if c != key)])}
        FROM versions
        QUALIFY row_number() OVER (PARTITION BY {quoted(key)} ORDER BY {newest_first}) = 1
            AND coalesce("_cdc_operation", '') <> {literal(DELETE)}
        """,
    )


def _versions(
    frame: duckdb.DuckDBPyRelation, columns: list[str], *, is_new: bool
) -> duckdb.DuckDBPyRelation:
    """`frame` with `columns` (null where it lacks one), whether it is new, and its row order."""
    present = set(frame.columns)
    projected = [quoted(c) if c in present else f"NULL AS {quoted(c)}" for c in columns]
    return frame.project(", ".join([*projected, f"{is_new} AS {_IS_NEW}", NUMBERED]))
