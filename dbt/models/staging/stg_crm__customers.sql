with

source as (

    select * from {{ source('lakehouse', 'crm_customers') }}

),

renamed as (

    select
        cast(customer_id as varchar) as customer_id,
        cast(first_name as varchar) as first_name,
        cast(last_name as varchar) as last_name,
        cast(email as varchar) as email,
        cast(phone as varchar) as phone,
        cast(street as varchar) as street,
        cast(city as varchar) as city,
        cast(state as varchar) as state,
        cast(postcode as varchar) as postcode,
        cast(country as varchar) as country,
        cast(signup_date as date) as signup_date,
        cast(lifetime_value as double) as lifetime_value,
        cast(is_active as boolean) as is_active,
        cast(updated_at as timestamptz) as updated_at

    from source

)

select * from renamed
