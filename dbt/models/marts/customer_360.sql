with

customers as (

    select * from {{ ref('int_customers_enriched') }}

),

identities as (

    select * from {{ ref('int_identities_aggregated') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

tickets as (

    select * from {{ ref('fct_support_tickets') }}

),

as_of as (

    select * from {{ ref('int_as_of') }}

),

order_stats as (

    select
        customer_key,
        sum(case when is_revenue then order_total else 0 end) as lifetime_value,
        sum(case when is_revenue then 1 else 0 end) as order_count,
        min(case when is_revenue then ordered_at end) as first_order_at,
        max(case when is_revenue then ordered_at end) as last_order_at,
        max(ordered_at) as last_ordered_at

    from orders
    group by customer_key

),

session_stats as (

    select
        customer_key,
        count(*) as session_count,
        sum(case when is_converted then 1 else 0 end) as converted_sessions,
        max(ended_at) as last_session_at

    from sessions
    group by customer_key

),

ticket_stats as (

    select
        customer_key,
        sum(case when is_open then 1 else 0 end) as open_tickets,
        max(created_at) as last_ticket_at

    from tickets
    group by customer_key

),

-- Cancelled and refunded orders are still the customer doing something.
activity as (

    select customer_key, last_ordered_at as happened_at from order_stats
    union all
    select customer_key, last_session_at as happened_at from session_stats
    union all
    select customer_key, last_ticket_at as happened_at from ticket_stats

),

last_activity as (

    select
        customer_key,
        max(happened_at) as last_activity_at

    from activity
    group by customer_key

),

joined as (

    select
        customers.*,
        identities.emails,
        identities.phones,
        identities.device_ids,
        identities.source_ids,
        identities.source_count,
        coalesce(order_stats.lifetime_value, 0) as lifetime_value,
        coalesce(order_stats.order_count, 0) as order_count,
        order_stats.first_order_at,
        order_stats.last_order_at,
        {{ dbt.datediff(utc_date('order_stats.last_order_at'), 'as_of.as_of_date', 'day') }} as days_since_last_order,
        last_activity.last_activity_at,
        {{ dbt.datediff(utc_date('last_activity.last_activity_at'), 'as_of.as_of_date', 'day') }} as days_since_last_activity,
        coalesce(session_stats.session_count, 0) as session_count,
        coalesce(session_stats.converted_sessions, 0) as converted_sessions,
        coalesce(ticket_stats.open_tickets, 0) as open_tickets

    from customers
    cross join as_of
    left join identities
        on customers.customer_key = identities.customer_key
    left join order_stats
        on customers.customer_key = order_stats.customer_key
    left join session_stats
        on customers.customer_key = session_stats.customer_key
    left join ticket_stats
        on customers.customer_key = ticket_stats.customer_key
    left join last_activity
        on customers.customer_key = last_activity.customer_key

),

-- Fixed thresholds (documented in customer_360.yml), not quantiles: a customer's score
-- does not move because other customers bought.
rfm_scored as (

    select
        *,
        case
            when order_count = 0 then null
            when days_since_last_order <= 7 then 5
            when days_since_last_order <= 14 then 4
            when days_since_last_order <= 30 then 3
            when days_since_last_order <= 60 then 2
            else 1
        end as rfm_recency_score,
        case
            when order_count = 0 then null
            when order_count >= 6 then 5
            when order_count >= 4 then 4
            else order_count
        end as rfm_frequency_score,
        case
            when order_count = 0 then null
            when lifetime_value >= 400 then 5
            when lifetime_value >= 200 then 4
            when lifetime_value >= 100 then 3
            when lifetime_value >= 50 then 2
            else 1
        end as rfm_monetary_score

    from joined

),

final as (

    select
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
        emails,
        phones,
        device_ids,
        source_ids,
        cast(source_count as integer) as source_count,
        cast(lifetime_value as decimal(12, 2)) as lifetime_value,
        cast(order_count as integer) as order_count,
        first_order_at,
        last_order_at,
        cast(days_since_last_order as integer) as days_since_last_order,
        cast(rfm_recency_score as integer) as rfm_recency_score,
        cast(rfm_frequency_score as integer) as rfm_frequency_score,
        cast(rfm_monetary_score as integer) as rfm_monetary_score,
        case
            when order_count = 0 then 'no_orders'
            when rfm_recency_score >= 4 and rfm_frequency_score >= 4 then 'champions'
            when rfm_frequency_score >= 4 then 'loyal'
            when rfm_recency_score >= 4 and rfm_frequency_score = 1 then 'new'
            when rfm_recency_score <= 2 and rfm_frequency_score >= 2 then 'at_risk'
            when rfm_recency_score <= 2 then 'hibernating'
            else 'promising'
        end as rfm_segment,
        last_activity_at,
        cast(days_since_last_activity as integer) as days_since_last_activity,
        cast(session_count as integer) as session_count,
        cast(converted_sessions as integer) as converted_sessions,
        case
            when session_count > 0 then round(cast(converted_sessions as double) / session_count, 4)
        end as conversion_rate,
        cast(open_tickets as integer) as open_tickets,
        order_count > 0 and (
            days_since_last_activity > 45
            or (open_tickets > 0 and days_since_last_order > 30)
        ) as is_churn_risk

    from rfm_scored

)

select * from final
