with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

-- Tenure is measured against the newest change seen, not the wall clock, so the same
-- sources always give the same model.
as_of as (

    select max(updated_at)::date as as_of_date from customers

),

final as (

    select
        customers.customer_id,
        trim(
            {{ dbt.concat(["coalesce(customers.first_name, '')", "' '", "coalesce(customers.last_name, '')"]) }}
        ) as full_name,
        customers.email,
        customers.phone,
        customers.signup_date,
        cast({{ dbt.datediff('customers.signup_date', 'as_of.as_of_date', 'day') }} as integer) as tenure_days,
        customers.lifetime_value,
        case
            when customers.lifetime_value >= 500 then 'high'
            when customers.lifetime_value >= 100 then 'medium'
            else 'low'
        end as value_tier,
        customers.is_active,
        customers.updated_at

    from customers
    cross join as_of

)

select * from final
