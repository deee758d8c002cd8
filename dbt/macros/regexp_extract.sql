{#- The first match of `pattern` in `string`, its capture group `group`; null when none. -#}
{% macro regexp_extract(string, pattern, group=0) -%}
  {{ return(adapter.dispatch('regexp_extract', 'c360')(string, pattern, group)) }}
{%- endmacro %}

{% macro default__regexp_extract(string, pattern, group) -%}
  regexp_substr({{ string }}, '{{ pattern }}', 1, 1, 'e', {{ group }})
{%- endmacro %}

{#- DuckDB returns '' where other engines return null for no match. -#}
{% macro duckdb__regexp_extract(string, pattern, group) -%}
  nullif(regexp_extract({{ string }}, '{{ pattern }}', {{ group }}), '')
{%- endmacro %}
