{#
  fakesnow shims: what this folder is for.

  The prod-parity test runs the prod target (dbt-snowflake) against a fakesnow server,
  a Snowflake emulator on DuckDB (tools/fakesnow). fakesnow misses a few things dbt-snowflake
  relies on; each macro here works around one of them, and only when the target is fakesnow
  (`account: fakesnow` in the prod profile). Against a real Snowflake account every macro
  here does exactly what dbt-snowflake does. The models' SQL is the same on every target.
#}
{% macro is_fakesnow() -%}
  {{ return(target.type == 'snowflake' and target.account == 'fakesnow') }}
{%- endmacro %}
