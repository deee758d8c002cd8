"""Start the fakesnow server (same arguments as `python -m fakesnow`) with the fix c360 needs.

fakesnow 0.12 rewrites the argument of every SUM, AVG, MEDIAN, VARIANCE and STDDEV into
`TRY_CAST(... AS DOUBLE)`, to mimic Snowflake summing text. That turns every NUMBER sum
into a DOUBLE: money sums stop being exact and counts built with SUM print as `1.0`, where
Snowflake keeps NUMBER. No c360 model aggregates text, so the rewrite is switched off and
DuckDB aggregates each type natively, as Snowflake does. A dbt macro cannot fix this: the
rewrite happens on the server, after dbt has sent its SQL.
"""

import fakesnow.cli
import fakesnow.transforms
from sqlglot import exp


def keep_numeric_aggregates(expression: exp.Expression) -> exp.Expression:
    return expression


fakesnow.transforms.numeric_agg_implicit_cast = keep_numeric_aggregates

if __name__ == "__main__":
    fakesnow.cli.main()
