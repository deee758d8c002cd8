with

source as (

    select * from {{ source('lakehouse', 'products') }}

),

renamed as (

    select
        cast(product_id as varchar) as product_id,
        cast(sku as varchar) as sku,
        cast(name as varchar) as product_name,
        cast(category as varchar) as category,
        cast(price as decimal(12, 2)) as price,
        cast(updated_at as timestamptz) as updated_at

    from source

)

select * from renamed
