{#
  dbt's `should_full_refresh`, and one more case: an incremental model whose table does
  not have exactly the columns the model documents was built by another version of the
  model, and is rebuilt in full rather than patched (dbt's `on_schema_change` options
  would leave the new columns empty on the old rows). dbt resolves this macro in the root
  project first, so every materialization and `is_incremental()` see the same answer.
#}
{% macro should_full_refresh() -%}
  {%- set requested = dbt.should_full_refresh() -%}
  {%- if requested or not execute or model.config.materialized != 'incremental' -%}
    {{- return(requested) -}}
  {%- endif -%}
  {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
  {%- if existing is none -%}
    {{- return(requested) -}}
  {%- endif -%}
  {%- set built = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
  {{- return(built | sort != model.columns.keys() | map('lower') | sort) -}}
{%- endmacro %}
