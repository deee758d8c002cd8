-- Every order's lines add up to its total, to the cent: both through fct_orders.items_total
-- and straight from fct_order_items (an order without lines must total 0.00).

with

orders as (

    select * from {{ ref('fct_orders') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

line_totals as (

    select
        order_id,
        sum(line_total) as line_total_sum

    from order_items
    group by order_id

)

select
    orders.order_id,
    orders.order_total,
    orders.items_total,
    line_totals.line_total_sum

from orders
left join line_totals
    on orders.order_id = line_totals.order_id
where orders.items_total <> orders.order_total
    or coalesce(line_totals.line_total_sum, 0) <> orders.order_total
