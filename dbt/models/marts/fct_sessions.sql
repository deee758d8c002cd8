{#-
  int_events_sessionised keeps each session's facts on its events: the sessions are its
  session-start rows, so no run aggregates the event history again (and a run writes only
  the sessions that changed: the `sync` strategy, see dbt_project.yml).
-#}
with

events as (

    select * from {{ ref('int_events_sessionised') }}

),

final as (

    select
        session_id,
        device_id,
        session_customer_key as customer_key,
        session_started_at as started_at,
        session_ended_at as ended_at,
        cast({{ dbt.datediff('session_started_at', 'session_ended_at', 'second') }} as bigint)
            as duration_seconds,
        session_event_count as event_count,
        session_page_views as page_views,
        session_searches as searches,
        session_add_to_carts as add_to_carts,
        is_session_converted as is_converted

    from events
    where is_session_start

)

select * from final
