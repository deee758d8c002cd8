{#- The values of `column` in a group joined with `delimiter` in ascending order (dbt's
    listagg ordered by the column itself). -#}
{% macro sorted_listagg(column, delimiter) -%}
  {{ return(adapter.dispatch('sorted_listagg', 'c360')(column, delimiter)) }}
{%- endmacro %}

{% macro default__sorted_listagg(column, delimiter) -%}
  {{ dbt.listagg(column, delimiter, 'order by ' ~ column) }}
{%- endmacro %}

{#- DuckDB sorts a per-group list several times faster than it runs an ordered aggregate. -#}
{% macro duckdb__sorted_listagg(column, delimiter) -%}
  array_to_string(list_sort(list({{ column }})), {{ delimiter }})
{%- endmacro %}
