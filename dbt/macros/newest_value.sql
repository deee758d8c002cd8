{#- The largest value of `column` in `relation` (none when it is empty), read when the
    model runs: a watermark an incremental model can filter its sources by as a literal,
    which the engine prunes files and row groups with (a subquery it would not). -#}
{% macro newest_value(relation, column) -%}
  {%- set result = run_query('select max(' ~ column ~ ') from ' ~ relation) -%}
  {{- return(result.columns[0].values()[0]) -}}
{%- endmacro %}
