-- A customer is in one version at a time: each version ends no later than the next one
-- starts, only the last can be open, and none ends before it starts.
with

versions as (

    select
        customer_key,
        customer_version_id,
        valid_from,
        valid_to,
        lead(valid_from) over (
            partition by customer_key order by valid_from, customer_version_id
        ) as next_valid_from

    from {{ ref('dim_customer') }}

)

select *
from versions
where valid_to < valid_from
    or (next_valid_from is not null and (valid_to is null or valid_to > next_valid_from))
