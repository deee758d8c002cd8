with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

events as (

    select * from {{ ref('stg_clickstream__events') }}

),

tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}

),

-- The newest thing that happened in the data stands in for "now": the wall clock would
-- make the same sources give different marts on every run.
activity as (

    select max(ordered_at) as happened_at from orders
    union all
    select max(event_at) as happened_at from events
    union all
    select max(created_at) as happened_at from tickets

),

final as (

    select
        max(happened_at) as as_of_at,
        {{ utc_date('max(happened_at)') }} as as_of_date

    from activity

)

select * from final
