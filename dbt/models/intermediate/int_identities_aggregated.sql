{#- The lists customer_360 shows, each built from one column of the person's records. -#}
{%- set lists = {'email': 'emails', 'phone': 'phones', 'device_id': 'device_ids', 'source_id': 'source_ids'} -%}
{#- A person's clickstream records are single events, about 95 % of all records: they are
    counted from the xref's keys alone and listed by device from int_events_sessionised,
    which has already resolved each event, so no run joins the event history again. -#}

with

-- The xref's records other than clickstream events; `counts` reads the keys of all of them
-- on its own: one CTE for both would be materialised whole, every clickstream id with it.
xref as (

    select * from {{ ref('stg_identity__customer_xref') }}
    where source <> 'clickstream'

),

crm_customers as (

    select * from {{ ref('stg_crm__customers') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}

),

loyalty_members as (

    select * from {{ ref('stg_loyalty__members') }}

),

marketing_contacts as (

    select * from {{ ref('stg_marketing__contacts') }}

),

legacy_customers as (

    select * from {{ ref('stg_legacy__customers') }}

),

events as (

    select * from {{ ref('int_events_sessionised') }}

),

-- Each identity source's records under the labels the xref uses.
contacts as (

    select
        'crm' as source,
        customer_id as source_record_id,
        email,
        phone
    from crm_customers
    union all
    select
        'orders' as source,
        order_id as source_record_id,
        email,
        phone
    from orders
    union all
    select
        'tickets' as source,
        ticket_id as source_record_id,
        customer_email as email,
        null as phone
    from tickets
    union all
    select
        'loyalty' as source,
        member_id as source_record_id,
        email,
        phone
    from loyalty_members
    union all
    select
        'marketing' as source,
        contact_id as source_record_id,
        email,
        phone
    from marketing_contacts
    union all
    select
        'legacy' as source,
        legacy_id as source_record_id,
        email,
        phone
    from legacy_customers

),

-- Every record but the clickstream's with its contacts, and each device a person's
-- clickstream events came from: they are listed by device instead of by event id.
records as (

    select
        xref.customer_key,
        {{ dbt.concat(['xref.source', "':'", 'xref.source_record_id']) }} as source_id,
        contacts.email,
        contacts.phone,
        cast(null as varchar) as device_id

    from xref
    left join contacts
        on xref.source = contacts.source
        and xref.source_record_id = contacts.source_record_id

    union all

    select distinct
        customer_key,
        null as source_id,
        null as email,
        null as phone,
        device_id

    from events
    where customer_key is not null

),

{% for column, list_name in lists.items() %}
{{ list_name }} as (

    select
        customer_key,
        {{ sorted_listagg(column, "','") }} as {{ list_name }}

    from (
        select distinct customer_key, {{ column }}
        from records
        where {{ column }} is not null
    ) as distinct_values
    group by customer_key

),

{% endfor %}
counts as (

    select
        customer_key,
        count(distinct source) as source_count,
        count(*) as source_record_count

    from {{ ref('stg_identity__customer_xref') }}
    group by customer_key

),

final as (

    select
        counts.customer_key,
        {% for list_name in lists.values() -%}
        {{ list_name }}.{{ list_name }},
        {% endfor -%}
        counts.source_count,
        counts.source_record_count

    from counts
    {% for list_name in lists.values() -%}
    left join {{ list_name }}
        on counts.customer_key = {{ list_name }}.customer_key
    {% endfor %}

)

select * from final
