{#
  The clock snapshots date each version by. With `snapshot_at` set (the pipeline passes
  the end of the newest simulated day), a rebuild of the same data, on any target, dates
  every version the same; without it, the warehouse's current time.

  The snapshot materialization and its type check both dispatch `snapshot_get_time` in
  the `dbt` namespace, which searches the root project first: this `default__` wins over
  the adapters' own (DuckDB's and Snowflake's return naive timestamps). Ours is a UTC
  instant, `timestamp with time zone` on both, like every other `_at` in the project.
#}
{% macro default__snapshot_get_time() -%}
  {%- set snapshot_at = var('snapshot_at', none) -%}
  {%- if snapshot_at -%}
    {%- set utc = modules.datetime.datetime.fromisoformat(snapshot_at).astimezone(modules.pytz.utc) -%}
    cast('{{ utc.strftime("%Y-%m-%d %H:%M:%S.%f+00:00") }}' as timestamp with time zone)
  {%- else -%}
    {{ dbt.current_timestamp() }}
  {%- endif -%}
{%- endmacro %}
