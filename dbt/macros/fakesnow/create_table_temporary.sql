{#
  fakesnow lacks: temporary tables in a database and schema. DuckDB keeps temporary tables
  in its own `temp` catalog, so dbt-snowflake's `create temporary table db.schema.name`
  (unit test fixtures, a snapshot's staging table) fails with "TEMPORARY table names can
  *only* use the temp catalog". On fakesnow the table is made transient instead; unit tests
  drop it after use, and post_snapshot drops a snapshot's, as the end of a Snowflake
  session would.
#}
{% macro snowflake__create_table_temporary_sql(relation, compiled_code) -%}
  {%- if is_fakesnow() -%}
    {{ dbt.snowflake__create_table_transient_sql(relation, compiled_code) }}
  {%- else -%}
    {{ dbt.snowflake__create_table_temporary_sql(relation, compiled_code) }}
  {%- endif -%}
{%- endmacro %}

{% macro snowflake__post_snapshot(staging_relation) -%}
  {%- if is_fakesnow() -%}
    {% do adapter.drop_relation(staging_relation) %}
  {%- else -%}
    {{ dbt.default__post_snapshot(staging_relation) }}
  {%- endif -%}
{%- endmacro %}
