with

source as (

    select * from {{ source('lakehouse', 'vendor_products') }}

),

renamed as (

    select
        cast(sku as varchar) as sku,
        cast(name as varchar) as product_name,
        cast(category as varchar) as category,
        cast(price as double) as price,
        cast(is_in_stock as boolean) as is_in_stock,
        cast(source_file as varchar) as source_file,
        cast(ingested_at as timestamptz) as ingested_at

    from source

)

select * from renamed
