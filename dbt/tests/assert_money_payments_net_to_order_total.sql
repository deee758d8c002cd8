-- Payments reconcile with orders to the cent: a revenue order's payments net to its total;
-- a cancelled or refunded order's refund cancels its charge, netting to 0.00.

select
    order_id,
    status,
    order_total,
    paid_total

from {{ ref('fct_orders') }}
where paid_total <> case when is_revenue then order_total else 0 end
