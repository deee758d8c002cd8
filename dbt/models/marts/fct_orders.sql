with

orders as (

    select * from {{ ref('int_orders_resolved') }}

),

final as (

    select
        order_id,
        customer_key,
        customer_id,
        ordered_at,
        order_date,
        status,
        currency,
        cast(order_total as decimal(12, 2)) as order_total,
        cast(items_total as decimal(12, 2)) as items_total,
        cast(item_count as integer) as item_count,
        cast(paid_total as decimal(12, 2)) as paid_total,
        is_revenue

    from orders

)

select * from final
