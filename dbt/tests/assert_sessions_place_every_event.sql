-- int_events_sessionised places every staged event that has a device and a time: its
-- incremental runs pick up the events captured after the newest one placed, so an event
-- staged late with an earlier capture time would be missed (a full refresh places it).
-- It places nothing else, and event_id is unique in both: equal counts, same events.

with

staged as (

    select count(*) as events
    from {{ ref('stg_clickstream__events') }}
    where device_id is not null and event_at is not null

),

placed as (

    select count(*) as events
    from {{ ref('int_events_sessionised') }}

)

select
    staged.events as staged_events,
    placed.events as placed_events

from staged
cross join placed
where staged.events <> placed.events
