{#
  fakesnow lacks two things dbt-snowflake's snapshot merge relies on:
  - unqualified column names in a MERGE's INSERT VALUES: dbt writes
    `insert (a, b) values (a, b)` and DuckDB, under fakesnow, finds `a` in both the target
    and the source ("Ambiguous reference to column name");
  - DML inside an explicit transaction: dbt-snowflake wraps the merge in `begin; ...;
    commit;`, and fakesnow's own bookkeeping then writes to a second DuckDB database in
    the same transaction, which DuckDB refuses (the server answers 500).
  On fakesnow the merge is dbt's plain one (a single statement commits on its own) with
  the values qualified by the source's alias, which Snowflake would read the same way.
#}
{% macro snowflake__snapshot_merge_sql(target, source, insert_cols) -%}
  {%- if not is_fakesnow() -%}
    {{ return(dbt.snowflake__snapshot_merge_sql(target, source, insert_cols)) }}
  {%- endif -%}
  {%- set qualified = [] -%}
  {%- for column in insert_cols -%}
    {%- do qualified.append('DBT_INTERNAL_SOURCE.' ~ column) -%}
  {%- endfor -%}
  {%- set merge = dbt.default__snapshot_merge_sql(target, source, insert_cols) -%}
  {%- set values = 'values (' ~ insert_cols | join(', ') ~ ')' -%}
  {{ return(merge | replace(values, 'values (' ~ qualified | join(', ') ~ ')')) }}
{%- endmacro %}
