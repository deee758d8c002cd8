with

source as (

    select * from {{ source('lakehouse', 'legacy_customers') }}

),

renamed as (

    select
        cast(legacy_id as varchar) as legacy_id,
        cast(full_name as varchar) as full_name,
        cast(first_name as varchar) as first_name,
        cast(last_name as varchar) as last_name,
        cast(email as varchar) as email,
        cast(phone as varchar) as phone,
        cast(customer_since_date as date) as customer_since_date,
        cast(source_file as varchar) as source_file,
        cast(ingested_at as timestamptz) as ingested_at

    from source

)

select * from renamed
