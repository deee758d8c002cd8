{#-
  Incremental: a run places again only the sessions a change reaches, so it costs what is
  new, not the 100 days before it. What a change reaches, per device, is every session from
  the first one it touches on:
  - a new event (staged after the newest one placed) can join the session of the device's
    last event before it, merge that session with the next, or start one between two and
    number every later session up: the device is placed again from the newest session that
    started before the new event (late events arrive too);
  - an event whose person changed (identity resolution rewrites the xref every run, merging
    and splitting people) changes its session's owner: placed again from its session.
  Of the rows placed again, only those that differ from the ones placed replace them (by
  event_id): most re-placed rows come out the same, and writing them would cost the
  database far more than comparing them. A run with no change writes nothing; a full
  refresh places every event, and both give the same rows.
-#}
{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set event_columns = [
    'event_id', 'device_id', 'customer_id', 'event_type', 'event_at', 'page', 'search_query',
    'product_id', 'ingested_at'
] -%}
{%- set output_columns = [
    'event_id', 'session_id', 'session_number', 'is_session_start', 'device_id',
    'customer_key', 'customer_id', 'event_type', 'event_at', 'page', 'search_query',
    'product_id', 'ingested_at', 'session_customer_key', 'session_started_at',
    'session_ended_at', 'session_event_count', 'session_page_views', 'session_searches',
    'session_add_to_carts', 'is_session_converted'
] -%}

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

{% if is_incremental() %}

-- A literal, so the scan of the staged events skips the files placed before.
new_events as (

    select * from events
    {%- set newest = newest_value(this, 'ingested_at') %}
    {%- if newest is not none %}
    where ingested_at > {{ timestamp_literal(newest) }}
    {%- endif %}

),

-- The person of each new event, and of each placed event whose person changed: one pass
-- over the xref.
changed_customers as (

    select
        candidates.event_id,
        candidates.device_id,
        candidates.session_number,
        candidates.is_placed,
        event_customers.customer_key

    from (
        select
            event_id,
            device_id,
            session_number,
            customer_key,
            true as is_placed

        from {{ this }}

        union all

        select
            event_id,
            device_id,
            null as session_number,
            null as customer_key,
            false as is_placed

        from new_events
    ) as candidates
    left join event_customers
        on candidates.event_id = event_customers.event_id
    where not candidates.is_placed
        or candidates.customer_key is distinct from event_customers.customer_key

),

changed_sessions as (

    select
        new_devices.device_id,
        coalesce(max(placed.session_number), 1) as session_number

    from (
        select
            device_id,
            min(event_at) as first_new_at

        from new_events
        group by device_id
    ) as new_devices
    left join {{ this }} as placed
        on new_devices.device_id = placed.device_id
        and placed.is_session_start
        and placed.event_at < new_devices.first_new_at
    group by new_devices.device_id

    union all

    select
        device_id,
        session_number

    from changed_customers
    where is_placed

),

restarts as (

    select
        device_id,
        min(session_number) as first_session_number

    from changed_sessions
    group by device_id

),

-- Each restarting device's placed rows from its first changed session on, as they are.
placed_again as (

    select
        placed.*,
        restarts.first_session_number

    from {{ this }} as placed
    inner join restarts
        on placed.device_id = restarts.device_id
        and placed.session_number >= restarts.first_session_number

),

-- Those events and the device's new ones (all later than that session's start), with
-- their persons now.
to_place as (

    select
        {% for column in event_columns -%}
        placed_again.{{ column }},
        {% endfor -%}
        case
            when changed_customers.event_id is null then placed_again.customer_key
            else changed_customers.customer_key
        end as customer_key,
        placed_again.first_session_number

    from placed_again
    left join changed_customers
        on placed_again.event_id = changed_customers.event_id

    union all

    select
        {% for column in event_columns -%}
        new_events.{{ column }},
        {% endfor -%}
        changed_customers.customer_key,
        restarts.first_session_number

    from new_events
    inner join restarts
        on new_events.device_id = restarts.device_id
    left join changed_customers
        on new_events.event_id = changed_customers.event_id

),

{% else %}

to_place as (

    select
        {% for column in event_columns -%}
        events.{{ column }},
        {% endfor -%}
        event_customers.customer_key,
        1 as first_session_number

    from events
    left join event_customers
        on events.event_id = event_customers.event_id

),

{% endif %}

-- Events at the same instant keep a fixed order (by event_id), so sessions never depend
-- on how the engine happens to sort ties.
events_with_previous as (

    select
        to_place.*,
        lag(to_place.event_at) over (
            partition by to_place.device_id
            order by to_place.event_at, to_place.event_id
        ) as previous_event_at,
        row_number() over (
            partition by to_place.device_id
            order by to_place.event_at, to_place.event_id
        ) as position_on_device

    from to_place

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
        session_starts.*,
        first_session_number - 1 + sum(case when is_session_start then 1 else 0 end) over (
            partition by device_id
            order by event_at, event_id
            rows between unbounded preceding and current row
        ) as session_number

    from session_starts

),

-- A session belongs to the person of its first resolved event.
session_facts as (

    select
        device_id,
        session_number,
        min_by(customer_key, case when customer_key is not null then position_on_device end)
            as session_customer_key,
        min(event_at) as session_started_at,
        max(event_at) as session_ended_at,
        count(*) as session_event_count,
        sum(case when event_type = 'page_view' then 1 else 0 end) as session_page_views,
        sum(case when event_type = 'search' then 1 else 0 end) as session_searches,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as session_add_to_carts,
        max(case when event_type = 'checkout' then 1 else 0 end) = 1 as is_session_converted

    from sessions_numbered
    group by device_id, session_number

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
        sessions_numbered.customer_key,
        sessions_numbered.customer_id,
        sessions_numbered.event_type,
        sessions_numbered.event_at,
        sessions_numbered.page,
        sessions_numbered.search_query,
        sessions_numbered.product_id,
        sessions_numbered.ingested_at,
        session_facts.session_customer_key,
        session_facts.session_started_at,
        session_facts.session_ended_at,
        cast(session_facts.session_event_count as integer) as session_event_count,
        cast(session_facts.session_page_views as integer) as session_page_views,
        cast(session_facts.session_searches as integer) as session_searches,
        cast(session_facts.session_add_to_carts as integer) as session_add_to_carts,
        session_facts.is_session_converted

    from sessions_numbered
    inner join session_facts
        on sessions_numbered.device_id = session_facts.device_id
        and sessions_numbered.session_number = session_facts.session_number

)

{% if is_incremental() %}

select {{ output_columns | join(', ') }} from final
except
select {{ output_columns | join(', ') }} from placed_again

{% else %}

select * from final

{% endif %}
