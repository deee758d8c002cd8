-- Revenue reconciles to the cent: the order totals of all revenue orders equal the sum of
-- customer_360.lifetime_value. Revenue orders without a customer_key are deliberately not
-- excluded: they would be revenue no customer carries, so they fail this test (today every
-- order resolves; fct_orders.customer_key is also tested not_null).

with

revenue as (

    select coalesce(sum(order_total), 0) as revenue_total
    from {{ ref('fct_orders') }}
    where is_revenue

),

lifetime_values as (

    select coalesce(sum(lifetime_value), 0) as lifetime_value_total
    from {{ ref('customer_360') }}

)

select
    revenue.revenue_total,
    lifetime_values.lifetime_value_total

from revenue
cross join lifetime_values
where revenue.revenue_total <> lifetime_values.lifetime_value_total
