with

source as (

    select * from {{ source('sales', 'SalesTerritory') }}

),

renamed as (

    select
        cast(TerritoryID as {{ dbt.type_int() }}) as territory_id,
        cast(Name as {{ medallion.type_text() }}) as territory_name,
        cast(CountryRegionCode as {{ medallion.type_text() }}) as country_region_code,
        cast({{ adapter.quote('Group') }} as {{ medallion.type_text() }}) as territory_group,
        cast(SalesYTD as decimal(19, 4)) as sales_ytd,
        cast(SalesLastYear as decimal(19, 4)) as sales_last_year,
        cast(CostYTD as decimal(19, 4)) as cost_ytd,
        cast(CostLastYear as decimal(19, 4)) as cost_last_year,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
