with

-- An event without a device or a time cannot be placed in a session.
events as (

    select * from {{ ref('stg_clickstream__events') }}
    where device_id is not null and event_at is not null

),

xref as (

    select * from {{ ref('stg_identity__customer_xref') }}

),

event_customers as (

    select
        source_record_id as event_id,
        customer_key

    from xref
    where source = 'clickstream'

),

-- Events at the same instant keep a fixed order (by event_id), so sessions never depend
-- on how the engine happens to sort ties.
events_with_previous as (

    select
        events.*,
        lag(events.event_at) over (
            partition by events.device_id
            order by events.event_at, events.event_id
        ) as previous_event_at

    from events

),

session_starts as (

    select
        *,
        previous_event_at is null
        or event_at > {{ dbt.dateadd('minute', 30, 'previous_event_at') }} as is_session_start

    from events_with_previous

),

sessions_numbered as (

    select
        *,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by device_id
            order by event_at, event_id
            rows between unbounded preceding and current row
        ) as session_number

    from session_starts

),

final as (

    select
        sessions_numbered.event_id,
        {{ dbt.concat([
            'sessions_numbered.device_id',
            "'-'",
            'cast(sessions_numbered.session_number as varchar)'
        ]) }} as session_id,
        cast(sessions_numbered.session_number as integer) as session_number,
        sessions_numbered.is_session_start,
        sessions_numbered.device_id,
        event_customers.customer_key,
        sessions_numbered.customer_id,
        sessions_numbered.event_type,
        sessions_numbered.event_at,
        sessions_numbered.page,
        sessions_numbered.search_query,
        sessions_numbered.product_id

    from sessions_numbered
    left join event_customers
        on sessions_numbered.event_id = event_customers.event_id

)

select * from final
