with

source as (

    select * from {{ source('lakehouse', 'customer_golden') }}

),

renamed as (

    select
        cast(customer_key as bigint) as customer_key,
        cast(first_name as varchar) as first_name,
        cast(first_name_source as varchar) as first_name_source,
        cast(last_name as varchar) as last_name,
        cast(last_name_source as varchar) as last_name_source,
        cast(email as varchar) as email,
        cast(email_source as varchar) as email_source,
        cast(phone as varchar) as phone,
        cast(phone_source as varchar) as phone_source,
        cast(street as varchar) as street,
        cast(city as varchar) as city,
        cast(state as varchar) as state,
        cast(postcode as varchar) as postcode,
        cast(country as varchar) as country,
        cast(address_source as varchar) as address_source,
        cast(source_records as bigint) as source_record_count,
        cast(sources as varchar) as sources,
        cast(first_seen_at as timestamptz) as first_seen_at,
        cast(last_seen_at as timestamptz) as last_seen_at

    from source

)

select * from renamed
