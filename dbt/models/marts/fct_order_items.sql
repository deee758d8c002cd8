with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

orders as (

    select * from {{ ref('int_orders_resolved') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

final as (

    select
        order_items.order_item_id,
        order_items.order_id,
        orders.customer_key,
        order_items.product_id,
        products.product_name,
        products.category,
        order_items.quantity,
        order_items.unit_price,
        order_items.line_total,
        orders.ordered_at

    from order_items
    left join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id

)

select * from final
