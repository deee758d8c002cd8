{#- A Python datetime (an instant) as a `timestamp with time zone` literal in UTC, to the
    microsecond; a naive datetime is taken to be UTC. The same text on every target. -#}
{% macro timestamp_literal(instant) -%}
  {%- set utc = modules.pytz.utc -%}
  {%- set instant = instant.astimezone(utc) if instant.tzinfo else utc.localize(instant) -%}
  cast('{{ instant.strftime("%Y-%m-%d %H:%M:%S.%f+00:00") }}' as timestamp with time zone)
{%- endmacro %}
