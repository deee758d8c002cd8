{#
  The clock snapshots date each version by. With C360_SNAPSHOT_AT set (the pipeline sets it
  to the end of the newest simulated day), a rebuild of the same data, on any target, dates
  every version the same; without it, the warehouse's current time.

  An environment variable, not a dbt var: dbt re-parses the whole project when `--vars`
  change, which they would every day; this macro runs only when a snapshot does, so it
  reads the variable then and dbt's partial parsing never depends on it.

  The snapshot materialization and its type check both dispatch `snapshot_get_time` in
  the `dbt` namespace, which searches the root project first: this `default__` wins over
  the adapters' own (DuckDB's and Snowflake's return naive timestamps). Ours is a UTC
  instant, `timestamp with time zone` on both, like every other `_at` in the project.
#}
{% macro default__snapshot_get_time() -%}
  {%- set snapshot_at = env_var('C360_SNAPSHOT_AT', '') -%}
  {%- if snapshot_at -%}
    {{ timestamp_literal(modules.datetime.datetime.fromisoformat(snapshot_at)) }}
  {%- else -%}
    {{ dbt.current_timestamp() }}
  {%- endif -%}
{%- endmacro %}
