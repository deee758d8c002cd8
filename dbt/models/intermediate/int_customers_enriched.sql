with

golden as (

    select * from {{ ref('stg_identity__customer_golden') }}

),

xref as (

    select * from {{ ref('stg_identity__customer_xref') }}

),

crm_customers as (

    select * from {{ ref('stg_crm__customers') }}

),

loyalty_members as (

    select * from {{ ref('stg_loyalty__members') }}

),

-- A person typed twice into the CRM is an active customer while either record is.
accounts as (

    select
        xref.customer_key,
        sum(case when crm_customers.is_active then 1 else 0 end) as active_records

    from xref
    inner join crm_customers
        on xref.source = 'crm'
        and xref.source_record_id = crm_customers.customer_id
    group by xref.customer_key

),

-- A cancelled card carries no segment; of two live cards the better tier counts.
segments as (

    select
        xref.customer_key,
        min(
            case loyalty_members.tier
                when 'Gold' then 1
                when 'Silver' then 2
                when 'Blue' then 3
            end
        ) as tier_rank

    from xref
    inner join loyalty_members
        on xref.source = 'loyalty'
        and xref.source_record_id = loyalty_members.member_id
    where loyalty_members.status = 'active'
    group by xref.customer_key

),

final as (

    select
        golden.customer_key,
        golden.first_name,
        golden.last_name,
        golden.email,
        golden.phone,
        golden.street,
        golden.city,
        golden.state,
        golden.postcode,
        golden.country,
        case segments.tier_rank
            when 1 then 'Gold'
            when 2 then 'Silver'
            when 3 then 'Blue'
        end as segment,
        case
            when accounts.active_records > 0 then 'active'
            when accounts.customer_key is not null then 'inactive'
            else 'no_account'
        end as account_status

    from golden
    left join accounts
        on golden.customer_key = accounts.customer_key
    left join segments
        on golden.customer_key = segments.customer_key

)

select * from final
