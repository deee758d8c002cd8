with

source as (

    select * from {{ source('lakehouse', 'loyalty_members') }}

),

renamed as (

    select
        cast(member_id as varchar) as member_id,
        cast(first_name as varchar) as first_name,
        cast(last_name as varchar) as last_name,
        cast(email as varchar) as email,
        cast(phone as varchar) as phone,
        cast(join_date as date) as joined_date,
        cast(points as bigint) as points,
        cast(tier as varchar) as tier,
        cast(status as varchar) as status,
        cast(source_file as varchar) as source_file,
        cast(ingested_at as timestamptz) as ingested_at

    from source

)

select * from renamed
