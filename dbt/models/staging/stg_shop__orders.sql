with

source as (

    select * from {{ source('lakehouse', 'orders') }}

),

renamed as (

    select
        cast(order_id as varchar) as order_id,
        cast(customer_id as varchar) as customer_id,
        cast(email as varchar) as email,
        cast(phone as varchar) as phone,
        cast(status as varchar) as status,
        cast(order_total as decimal(12, 2)) as order_total,
        cast(currency as varchar) as currency,
        cast(ordered_at as timestamptz) as ordered_at,
        cast(updated_at as timestamptz) as updated_at

    from source

)

select * from renamed
