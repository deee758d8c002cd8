with

source as (

    select * from {{ source('lakehouse', 'order_items') }}

),

renamed as (

    select
        cast(order_item_id as varchar) as order_item_id,
        cast(order_id as varchar) as order_id,
        cast(product_id as varchar) as product_id,
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(12, 2)) as unit_price,
        cast(line_total as decimal(12, 2)) as line_total

    from source

)

select * from renamed
