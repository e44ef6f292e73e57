with

source as (

    select * from {{ source('person', 'CountryRegion') }}

),

renamed as (

    select
        cast(CountryRegionCode as {{ medallion.type_text() }}) as country_region_code,
        cast(Name as {{ medallion.type_text() }}) as country_region_name,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
