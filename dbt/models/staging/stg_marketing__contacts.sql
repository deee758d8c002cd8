with

source as (

    select * from {{ source('lakehouse', 'marketing_contacts') }}

),

renamed as (

    select
        cast(contact_id as varchar) as contact_id,
        cast(full_name as varchar) as full_name,
        cast(first_name as varchar) as first_name,
        cast(last_name as varchar) as last_name,
        cast(email as varchar) as email,
        cast(phone as varchar) as phone,
        cast(is_opted_in as boolean) as is_opted_in,
        cast(lead_source as varchar) as lead_source,
        cast(added_date as date) as added_date,
        cast(source_file as varchar) as source_file,
        cast(ingested_at as timestamptz) as ingested_at

    from source

)

select * from renamed
