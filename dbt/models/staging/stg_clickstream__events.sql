with

source as (

    select * from {{ source('lakehouse', 'clickstream_events') }}

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(event_type as varchar) as event_type,
        cast(event_at as timestamptz) as event_at,
        cast(device_id as varchar) as device_id,
        cast(session_id as varchar) as reported_session_id,
        cast(customer_id as varchar) as customer_id,
        cast(page as varchar) as page,
        cast(query as varchar) as search_query,
        cast(product_id as varchar) as product_id,
        cast(arrived_at as timestamptz) as arrived_at,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(is_late as boolean) as is_late

    from source

)

select * from renamed
