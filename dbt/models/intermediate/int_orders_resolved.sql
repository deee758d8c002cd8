with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

payments as (

    select * from {{ ref('stg_shop__payments') }}

),

xref as (

    select * from {{ ref('stg_identity__customer_xref') }}

),

order_customers as (

    select
        source_record_id as order_id,
        customer_key

    from xref
    where source = 'orders'

),

order_items_summed as (

    select
        order_id,
        sum(line_total) as items_total,
        count(*) as item_count

    from order_items
    group by order_id

),

payments_summed as (

    select
        order_id,
        sum(amount) as paid_total

    from payments
    group by order_id

),

final as (

    select
        orders.order_id,
        order_customers.customer_key,
        orders.customer_id,
        orders.email,
        orders.phone,
        orders.ordered_at,
        {{ utc_date('orders.ordered_at') }} as order_date,
        orders.status,
        orders.currency,
        orders.order_total,
        coalesce(order_items_summed.items_total, 0) as items_total,
        coalesce(order_items_summed.item_count, 0) as item_count,
        coalesce(payments_summed.paid_total, 0) as paid_total,
        orders.status not in ('cancelled', 'refunded') as is_revenue

    from orders
    left join order_customers
        on orders.order_id = order_customers.order_id
    left join order_items_summed
        on orders.order_id = order_items_summed.order_id
    left join payments_summed
        on orders.order_id = payments_summed.order_id

)

select * from final
