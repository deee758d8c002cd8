-- A closed version hands over to the next at the same instant; a key never comes back
-- after deletion, so a later version that starts after the previous ends is a gap.
with

versions as (

    select
        customer_key,
        customer_version_id,
        valid_to,
        lead(valid_from) over (
            partition by customer_key order by valid_from, customer_version_id
        ) as next_valid_from

    from {{ ref('dim_customer') }}

)

select *
from versions
where next_valid_from is not null
    and valid_to < next_valid_from
