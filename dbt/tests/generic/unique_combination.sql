{#-
  Each combination of `columns` appears on at most one row: the rows that share one are
  the failures. Grouping by the columns themselves, not by a string joined from them, is
  exact (no two combinations join to the same text) and cheaper on millions of rows.
-#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as n_records

from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
