-- Every customer in the golden record has exactly one current version.
with

live as (

    select customer_key from {{ ref('stg_identity__customer_golden') }}

),

current_versions as (

    select
        customer_key,
        count(*) as current_rows

    from {{ ref('dim_customer') }}
    where is_current
    group by customer_key

)

select
    live.customer_key,
    coalesce(current_versions.current_rows, 0) as current_rows

from live
left join current_versions
    on live.customer_key = current_versions.customer_key
where coalesce(current_versions.current_rows, 0) != 1
