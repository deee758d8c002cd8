"""Staging zone: clean, typed, deduplicated current state, one table per source entity."""

from dataclasses import replace

from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    LongType,
    StringType,
    TimestamptzType,
)

from catalog.tables import raw
from catalog.tables.definition import Column, TableDef, Zone


def current_state(source: TableDef, **docs: str) -> tuple[Column, ...]:
    """The columns of a staging table holding the current state of a replicated `source`:
    its source columns, with `updated_at` required (deletes are applied) and the given
    columns' docs saying how staging cleaned them."""
    return tuple(
        replace(
            column,
            required=column.required or column.name == "updated_at",
            doc=docs.get(column.name, column.doc),
        )
        for column in source.columns
        if not column.name.startswith("_")
    )


CRM_CUSTOMERS = TableDef(
    zone=Zone.STAGING,
    name="crm_customers",
    doc="The current state of each live CRM customer, normalised.",
    columns=current_state(
        raw.CRM_CUSTOMERS,
        email="trimmed, lower-case",
        phone="E.164, when parseable",
        country="ISO 3166-1 alpha-2, null when not a known country",
    ),
    identifier=("customer_id",),
)

ORDERS_PRODUCTS = TableDef(
    zone=Zone.STAGING,
    name="products",
    doc="The current state of each product in the shop's catalog.",
    columns=current_state(raw.ORDERS_PRODUCTS),
    identifier=("product_id",),
)

ORDERS_ORDERS = TableDef(
    zone=Zone.STAGING,
    name="orders",
    doc="The current state of each live order, contacts normalised.",
    columns=current_state(
        raw.ORDERS_ORDERS, email="trimmed, lower-case", phone="E.164, when parseable"
    ),
    identifier=("order_id",),
)

ORDERS_ORDER_ITEMS = TableDef(
    zone=Zone.STAGING,
    name="order_items",
    doc="Each live order line.",
    columns=current_state(raw.ORDERS_ORDER_ITEMS),
    identifier=("order_item_id",),
)

ORDERS_PAYMENTS = TableDef(
    zone=Zone.STAGING,
    name="payments",
    doc="The current state of each payment; refunds and cancellations are negative amounts.",
    columns=current_state(raw.ORDERS_PAYMENTS),
    identifier=("payment_id",),
)

CLICKSTREAM_EVENTS = TableDef(
    zone=Zone.STAGING,
    name="clickstream_events",
    doc="Each clickstream event once (its first arrival), in event-time order.",
    columns=(
        Column("event_id", StringType(), required=True),
        Column("event_type", StringType()),
        Column("event_at", TimestamptzType(), doc="the device's clock, as the event reports it"),
        Column("device_id", StringType()),
        Column("session_id", StringType()),
        Column("customer_id", StringType()),
        Column("page", StringType()),
        Column("query", StringType()),
        Column("product_id", StringType()),
        Column("arrived_at", TimestamptzType(), required=True, doc="when the stream accepted it"),
        Column("ingested_at", TimestamptzType(), required=True, doc="when c360 captured it"),
        Column(
            "is_late",
            BooleanType(),
            required=True,
            doc="happened before the newest event_at of every earlier ingestion batch",
        ),
    ),
    identifier=("event_id",),
)


# Vendor file drops hold each vendor id's newest version: later capture wins, then the later
# landing key, then the later row in the file.
def file_lineage(what: str) -> tuple[Column, ...]:
    """The columns saying which landed file `what` came from, and when c360 captured it."""
    return (
        Column("source_file", StringType(), required=True, doc=f"the landing key {what} came from"),
        Column("ingested_at", TimestamptzType(), required=True, doc=f"when c360 captured {what}"),
    )


EMAIL_DOC = "trimmed, lower-case; null when blank"
PHONE_DOC = "E.164 (+1 assumed for ten digits), null when unparseable"
NAME_DOC = "trimmed, inner white space collapsed; re-cased when typed in capitals"
SPLIT_DOC = "from full_name, `Last, First` (else `First Last`, the last word the last name)"

VENDOR_LOYALTY_MEMBERS = TableDef(
    zone=Zone.STAGING,
    name="loyalty_members",
    doc="The newest record of each loyalty-partner member, normalised (a person may hold two).",
    columns=(
        Column("member_id", StringType(), required=True, doc="the partner's memberId"),
        Column("first_name", StringType(), doc=NAME_DOC),
        Column("last_name", StringType(), doc=NAME_DOC),
        Column("email", StringType(), doc=EMAIL_DOC),
        Column("phone", StringType(), doc=PHONE_DOC),
        Column("join_date", DateType(), doc="from the partner's MM/DD/YYYY (any date style read)"),
        Column("points", LongType(), doc="points balance; thousands commas read, else null"),
        Column("tier", StringType(), doc="Gold, Silver or Blue, as the partner computes it"),
        Column("status", StringType(), doc="active or cancelled"),
        *file_lineage("the current version"),
    ),
    identifier=("member_id",),
)

VENDOR_MARKETING_LIST = TableDef(
    zone=Zone.STAGING,
    name="marketing_contacts",
    doc=(
        "The newest row of each contact on the marketing agency's weekly lists, normalised; "
        "a contact dropped from the lists keeps its last row (an older source_file)."
    ),
    columns=(
        Column("contact_id", StringType(), required=True, doc="the agency's Contact ID"),
        Column("full_name", StringType(), doc="as written, trimmed, white space collapsed"),
        Column("first_name", StringType(), doc=f"{SPLIT_DOC}: after the comma; {NAME_DOC}"),
        Column("last_name", StringType(), doc=f"{SPLIT_DOC}: before it; {NAME_DOC}"),
        Column("email", StringType(), doc=f"{EMAIL_DOC}; `E-mail Address`, or `Email`"),
        Column("phone", StringType(), doc=PHONE_DOC),
        Column(
            "is_opted_in", BooleanType(), doc="Opt In: Yes/No (Y/N, true/false) read, else null"
        ),
        Column("lead_source", StringType()),
        Column("added_date", DateType(), doc="Date Added, any date style read"),
        *file_lineage("the current version"),
    ),
    identifier=("contact_id",),
)

VENDOR_LEGACY_CUSTOMERS = TableDef(
    zone=Zone.STAGING,
    name="legacy_customers",
    doc=(
        "The newest export row of each customer of the frozen legacy system, normalised; "
        "its contact details may be years out of date."
    ),
    columns=(
        Column("legacy_id", StringType(), required=True, doc="the export's id, zeros kept"),
        Column("full_name", StringType(), doc="as written (`Last, First`), white space collapsed"),
        Column("first_name", StringType(), doc=f"{SPLIT_DOC}: after the comma; {NAME_DOC}"),
        Column("last_name", StringType(), doc=f"{SPLIT_DOC}: before it; {NAME_DOC}"),
        Column("email", StringType(), doc=EMAIL_DOC),
        Column("phone", StringType(), doc=f"{PHONE_DOC}; often a landline"),
        Column(
            "customer_since_date", DateType(), doc="`since`, from DD.MM.YYYY (any date style read)"
        ),
        *file_lineage("the current version"),
    ),
    identifier=("legacy_id",),
)

VENDOR_PRODUCT_FEED = TableDef(
    zone=Zone.STAGING,
    name="vendor_products",
    doc="The newest row of each SKU in the daily product feed.",
    columns=(
        Column("sku", StringType(), required=True),
        Column("name", StringType(), doc="trimmed, inner white space collapsed"),
        Column("category", StringType(), doc="the feed's title-case category"),
        Column("price", DoubleType(), doc="dollars, as the feed's float"),
        Column("is_in_stock", BooleanType(), doc="the feed's in_stock"),
        *file_lineage("the current version"),
    ),
    identifier=("sku",),
)

SUPPORT_TICKETS = TableDef(
    zone=Zone.STAGING,
    name="support_tickets",
    doc="Each support ticket once (its first arrival), in creation order.",
    columns=(
        Column("ticket_id", StringType(), required=True),
        Column("created_at", TimestamptzType(), doc="from the help desk's ISO 8601 text, UTC"),
        Column("channel", StringType(), doc="email, chat, phone or web, as given"),
        Column("subject", StringType(), doc="as written"),
        Column("body", StringType(), doc="as written"),
        Column("customer_email", StringType(), doc=f"{EMAIL_DOC}; often missing on phone calls"),
        *file_lineage("the ticket's first arrival"),
    ),
    identifier=("ticket_id",),
)

CUSTOMER_XREF = TableDef(
    zone=Zone.STAGING,
    name="customer_xref",
    doc="Each source record with an identity, and the person (customer_key) it resolved to.",
    columns=(
        Column("source", StringType(), required=True, doc="crm, orders, clickstream, ..."),
        Column("source_record_id", StringType(), required=True, doc="the record's id there"),
        Column("customer_key", LongType(), required=True, doc="stable across runs"),
        Column("match_rule", StringType(), required=True, doc="what joined it to the person"),
        Column("match_probability", DoubleType(), doc="1.0 for exact rules; null: unmatched"),
    ),
    identifier=("source", "source_record_id"),
)

_ADDRESS = ("street", "city", "state", "postcode", "country")
CUSTOMER_GOLDEN = TableDef(
    zone=Zone.STAGING,
    name="customer_golden",
    doc="One golden record per customer_key: each attribute chosen by survivorship rules.",
    columns=(
        Column("customer_key", LongType(), required=True),
        *(
            column
            for name in ("first_name", "last_name", "email", "phone")
            for column in (
                Column(name, StringType()),
                Column(f"{name}_source", StringType(), doc="source:source_record_id it came from"),
            )
        ),
        *(Column(name, StringType()) for name in _ADDRESS),
        Column("address_source", StringType(), doc="source:source_record_id it came from"),
        Column("source_records", LongType(), required=True),
        Column("sources", StringType(), required=True, doc="comma-separated, sorted"),
        Column("first_seen_at", TimestamptzType()),
        Column("last_seen_at", TimestamptzType()),
    ),
    identifier=("customer_key",),
)

TABLES = (
    CRM_CUSTOMERS,
    ORDERS_PRODUCTS,
    ORDERS_ORDERS,
    ORDERS_ORDER_ITEMS,
    ORDERS_PAYMENTS,
    CLICKSTREAM_EVENTS,
    VENDOR_LOYALTY_MEMBERS,
    VENDOR_MARKETING_LIST,
    VENDOR_LEGACY_CUSTOMERS,
    VENDOR_PRODUCT_FEED,
    SUPPORT_TICKETS,
    CUSTOMER_XREF,
    CUSTOMER_GOLDEN,
)
