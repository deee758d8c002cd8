with

tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}

),

xref as (

    select * from {{ ref('stg_identity__customer_xref') }}

),

ticket_customers as (

    select
        source_record_id as ticket_id,
        customer_key

    from xref
    where source = 'tickets'

),

final as (

    select
        tickets.ticket_id,
        ticket_customers.customer_key,
        tickets.created_at,
        tickets.channel,
        tickets.subject,
        tickets.body,
        tickets.customer_email,
        -- The same pattern identity resolution reads (transforms/identity/records.py).
        {{ regexp_extract('tickets.body', '#(O[0-9]{9})', 1) }} as referenced_order_id

    from tickets
    left join ticket_customers
        on tickets.ticket_id = ticket_customers.ticket_id

)

select * from final
