with

source as (

    select * from {{ source('sales', 'SalesOrderHeader') }}

),

renamed as (

    select
        cast(SalesOrderID as {{ dbt.type_int() }}) as sales_order_id,
        cast(RevisionNumber as smallint) as revision_number,
        cast(OrderDate as {{ dbt.type_timestamp() }}) as ordered_at,
        cast(DueDate as {{ dbt.type_timestamp() }}) as due_at,
        cast(ShipDate as {{ dbt.type_timestamp() }}) as shipped_at,
        cast(Status as smallint) as status,
        cast(OnlineOrderFlag as {{ dbt.type_boolean() }}) as is_online_order,
        cast(SalesOrderNumber as {{ medallion.type_text() }}) as sales_order_number,
        cast(PurchaseOrderNumber as {{ medallion.type_text() }}) as purchase_order_number,
        cast(AccountNumber as {{ medallion.type_text() }}) as account_number,
        cast(CustomerID as {{ dbt.type_int() }}) as customer_id,
        cast(SalesPersonID as {{ dbt.type_int() }}) as sales_person_id,
        cast(TerritoryID as {{ dbt.type_int() }}) as territory_id,
        cast(BillToAddressID as {{ dbt.type_int() }}) as bill_to_address_id,
        cast(ShipToAddressID as {{ dbt.type_int() }}) as ship_to_address_id,
        cast(ShipMethodID as {{ dbt.type_int() }}) as ship_method_id,
        cast(CreditCardID as {{ dbt.type_int() }}) as credit_card_id,
        cast(CreditCardApprovalCode as {{ medallion.type_text() }}) as credit_card_approval_code,
        cast(CurrencyRateID as {{ dbt.type_int() }}) as currency_rate_id,
        cast(SubTotal as decimal(19, 4)) as subtotal,
        cast(TaxAmt as decimal(19, 4)) as tax_amt,
        cast(Freight as decimal(19, 4)) as freight,
        cast(TotalDue as decimal(19, 4)) as total_due,
        cast(Comment as {{ medallion.type_text() }}) as comment,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
