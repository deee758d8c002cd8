with

events as (

    select * from {{ ref('int_events_sessionised') }}

),

sessions as (

    select
        session_id,
        device_id,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        count(*) as event_count,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_type = 'search' then 1 else 0 end) as searches,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
        max(case when event_type = 'checkout' then 1 else 0 end) = 1 as is_converted

    from events
    group by session_id, device_id

),

-- A session belongs to the person of its first resolved event.
session_customers as (

    select
        session_id,
        customer_key,
        row_number() over (partition by session_id order by event_at, event_id) as position_in_session

    from events
    where customer_key is not null

),

final as (

    select
        sessions.session_id,
        sessions.device_id,
        session_customers.customer_key,
        sessions.started_at,
        sessions.ended_at,
        cast({{ dbt.datediff('sessions.started_at', 'sessions.ended_at', 'second') }} as bigint) as duration_seconds,
        cast(sessions.event_count as integer) as event_count,
        cast(sessions.page_views as integer) as page_views,
        cast(sessions.searches as integer) as searches,
        cast(sessions.add_to_carts as integer) as add_to_carts,
        sessions.is_converted

    from sessions
    left join session_customers
        on sessions.session_id = session_customers.session_id
        and session_customers.position_in_session = 1

)

select * from final
