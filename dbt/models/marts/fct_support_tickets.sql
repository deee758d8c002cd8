with

tickets as (

    select * from {{ ref('int_tickets_resolved') }}

),

as_of as (

    select * from {{ ref('int_as_of') }}

),

final as (

    select
        tickets.ticket_id,
        tickets.customer_key,
        tickets.created_at,
        tickets.channel,
        tickets.subject,
        tickets.referenced_order_id,
        -- The help desk exports no status: a ticket counts as open for its first 7 days.
        coalesce(
            tickets.created_at > {{ dbt.dateadd('day', -7, 'as_of.as_of_at') }},
            false
        ) as is_open

    from tickets
    cross join as_of

)

select * from final
