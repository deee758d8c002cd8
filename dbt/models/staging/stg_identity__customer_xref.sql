with

source as (

    select * from {{ source('lakehouse', 'customer_xref') }}

),

renamed as (

    select
        cast(source as varchar) as source,
        cast(source_record_id as varchar) as source_record_id,
        cast(customer_key as bigint) as customer_key,
        cast(match_rule as varchar) as match_rule,
        cast(match_probability as double) as match_probability

    from source

)

select * from renamed
