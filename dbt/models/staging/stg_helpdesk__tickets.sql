with

source as (

    select * from {{ source('lakehouse', 'support_tickets') }}

),

renamed as (

    select
        cast(ticket_id as varchar) as ticket_id,
        cast(created_at as timestamptz) as created_at,
        cast(channel as varchar) as channel,
        cast(subject as varchar) as subject,
        cast(body as varchar) as body,
        cast(customer_email as varchar) as customer_email,
        cast(source_file as varchar) as source_file,
        cast(ingested_at as timestamptz) as ingested_at

    from source

)

select * from renamed
