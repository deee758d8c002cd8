with

source as (

    select * from {{ source('lakehouse', 'payments') }}

),

renamed as (

    select
        cast(payment_id as varchar) as payment_id,
        cast(order_id as varchar) as order_id,
        cast(method as varchar) as payment_method,
        cast(amount as decimal(12, 2)) as amount,
        cast(paid_at as timestamptz) as paid_at,
        cast(updated_at as timestamptz) as updated_at

    from source

)

select * from renamed
