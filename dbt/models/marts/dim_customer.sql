with

snapshot as (

    select * from {{ ref('snap_customers') }}

),

final as (

    select
        dbt_scd_id as customer_version_id,
        customer_key,
        first_name,
        last_name,
        email,
        phone,
        street,
        city,
        state,
        postcode,
        country,
        segment,
        account_status,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to,
        dbt_valid_to is null as is_current

    from snapshot

)

select * from final
