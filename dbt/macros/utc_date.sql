{#- The UTC calendar date of a timestamp with time zone, whatever the session's time zone
    (a plain cast would use the session's, and engines default to different ones). -#}
{% macro utc_date(timestamp) -%}
  {{ return(adapter.dispatch('utc_date', 'c360')(timestamp)) }}
{%- endmacro %}

{% macro default__utc_date(timestamp) -%}
  cast(convert_timezone('UTC', {{ timestamp }}) as date)
{%- endmacro %}

{% macro duckdb__utc_date(timestamp) -%}
  cast(timezone('UTC', {{ timestamp }}) as date)
{%- endmacro %}
