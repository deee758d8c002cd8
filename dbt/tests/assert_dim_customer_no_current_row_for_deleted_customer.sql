-- A customer gone from the golden record keeps its history but no current version.
with

live as (

    select customer_key from {{ ref('stg_identity__customer_golden') }}

)

select dim_customer.*
from {{ ref('dim_customer') }} as dim_customer
where dim_customer.is_current
    and dim_customer.customer_key not in (select customer_key from live)
