{#
  The `sync` incremental strategy: the model's query is its whole table, as a full build
  would write it, and a run writes only the difference. Rows no longer identical to one the
  query returns are deleted (changed or gone), then the query's rows not in the table are
  inserted (new or changed), so the table ends equal to a full build.

  For the small tables rebuilt every run, most rows come out the same every day: rewriting
  them, and the primary key index over them, costs the database far more than comparing.
  Both statements run in the model's transaction on DuckDB; on Snowflake each commits on
  its own, and a run interrupted between them is put right by the next.
#}
{% macro get_incremental_sync_sql(arg_dict) -%}
  {%- set key = arg_dict['unique_key'] -%}
  {%- if key is not string -%}
    {%- do exceptions.raise_compiler_error(
        model.name ~ ": the sync strategy needs one unique_key column, got " ~ key) -%}
  {%- endif -%}
  {%- set target = arg_dict['target_relation'] -%}
  {%- set source = arg_dict['temp_relation'] -%}
  {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
  delete from {{ target }}
  where {{ key }} not in (
      select {{ key }} from (
          select {{ columns }} from {{ target }}
          intersect
          select {{ columns }} from {{ source }}
      ) as unchanged
  );

  insert into {{ target }} ({{ columns }})
  select {{ columns }} from {{ source }}
  except
  select {{ columns }} from {{ target }}
{%- endmacro %}
