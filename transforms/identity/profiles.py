"""Profiles: the units identity resolution matches, and how each record reaches one.

Records that carry no attributes of their own are attached by reference before any
matching, so matching works on far fewer, richer rows:

- a CRM, loyalty, marketing or legacy record is its own profile (`crm:C00000001`),
  matched by the rules and Splink;
- an order or event carrying a CRM `customer_id` joins that CRM record's profile
  (`match_rule` `crm_id`);
- an anonymous event joins the customer its device logged in as, when the device logged
  in as exactly one customer (`device_login`);
- a ticket quoting an order number joins the order's profile (`order_reference`);
- the other anonymous events of a device share one anonymous visitor profile
  (`device:<device_id>`, `anonymous_device`): one device, one person, not yet known. The
  day it logs in, its visitor key merges into the customer's (`ops.identity_history`);
- guest orders and tickets with the same email and phone share one profile
  (`contact:<email>|<phone>`), matched like the named ones.

A record with nothing to go on (a ticket with neither email nor order number) has no
identity and no profile: it is counted, not guessed.
"""

from __future__ import annotations

import polars as pl

NAMED_SOURCES = ("crm", "loyalty", "marketing", "legacy")
# The source of events, and what an event says of who someone is: the device and the
# customer it was logged in as. Events carry nothing else to match on, so every event of
# a group attaches alike and resolution works on groups, far fewer than events.
EVENT_SOURCE = "clickstream"
GROUP = ["device_id", "crm_ref"]
ANONYMOUS_DEVICE = "anonymous_device"
PROFILE_SCHEMA: dict[str, pl.DataType] = {
    "profile_id": pl.String(),
    "first_name": pl.String(),
    "last_name": pl.String(),
    "email": pl.String(),
    "phone": pl.String(),
}


def _crm_profile(ref: str | pl.Expr) -> pl.Expr:
    return pl.concat_str(pl.lit("crm:"), pl.col(ref) if isinstance(ref, str) else ref)


def attach(records: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each record's profile, and the profiles to match.

    Returns:
        `(attached, profiles)`: `attached` has `source`, `source_record_id`, `profile_id`
        and `attach_rule` (null where matching decides) for every record with an identity;
        `profiles` has `PROFILE_SCHEMA`, one row per profile, sorted by `profile_id`.
    """
    events = records.filter(pl.col("source") == EVENT_SOURCE)
    attached, grouped, profiles = attach_groups(
        records.filter(pl.col("source") != EVENT_SOURCE), event_groups(events)
    )
    by_event = events.join(grouped, on=GROUP, nulls_equal=True)
    columns = ["source", "source_record_id", "profile_id", "attach_rule"]
    return pl.concat([attached, by_event.select(columns)]).sort(columns[:2]), profiles


def event_groups(events: pl.DataFrame) -> pl.DataFrame:
    """The distinct `GROUP`s of `events` that say who someone is (one of the two set)."""
    return (
        events.select(GROUP)
        .filter(pl.any_horizontal(pl.col(GROUP).is_not_null()))
        .unique()
        .sort(GROUP)
    )


def attach_groups(
    records: pl.DataFrame, groups: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """`attach` with the events given as their groups: every event of a group (a device
    and the customer it was logged in as, either may be missing) attaches alike.

    Args:
        records: the records of every source but `EVENT_SOURCE`.
        groups: `GROUP`, one row per group of events with an identity.

    Returns:
        `(attached, grouped, profiles)`: `attached` and `profiles` as `attach` returns them
        (`attached` for `records` only); `grouped` has `GROUP`, `profile_id` and
        `attach_rule` for every group.
    """
    named = records.filter(pl.col("source").is_in(NAMED_SOURCES)).with_columns(
        profile_id=pl.concat_str("source", pl.lit(":"), "source_record_id"),
        attach_rule=pl.lit(None, pl.String),
    )
    referenced = records.filter(pl.col("crm_ref").is_not_null()).with_columns(
        profile_id=_crm_profile("crm_ref"), attach_rule=pl.lit("crm_id")
    )
    grouped = _attach_events(groups)
    contacts = records.filter(
        pl.col("source").is_in(("orders", "tickets"))
        & pl.col("crm_ref").is_null()
        & (pl.col("email").is_not_null() | pl.col("phone").is_not_null())
    ).with_columns(
        profile_id=pl.concat_str(
            pl.lit("contact:"),
            pl.col("email").fill_null(""),
            pl.lit("|"),
            pl.col("phone").fill_null(""),
        ),
        attach_rule=pl.lit(None, pl.String),
    )
    columns = ["source", "source_record_id", "profile_id", "attach_rule"]
    orders = pl.concat([f.filter(pl.col("source") == "orders") for f in (referenced, contacts)])
    # A ticket quoting an order belongs with that order, whatever email it was sent from
    # (and that email makes no profile of its own).
    by_order = (
        records.filter(pl.col("order_ref").is_not_null())
        .select("source", "source_record_id", "order_ref")
        .join(
            orders.select(order_ref="source_record_id", order_profile="profile_id"),
            on="order_ref",
        )
        .select(
            "source",
            "source_record_id",
            profile_id="order_profile",
            attach_rule=pl.lit("order_reference"),
        )
    )
    contacts = contacts.join(by_order, on=["source", "source_record_id"], how="anti")
    attached = pl.concat([f.select(columns) for f in (named, referenced, contacts, by_order)]).sort(
        "source", "source_record_id"
    )
    profiles = pl.concat(
        [
            named.select(list(PROFILE_SCHEMA)),
            contacts.select(list(PROFILE_SCHEMA)).unique("profile_id"),
            # CRM ids referenced by orders and events but no longer in the CRM (deleted),
            # and anonymous visitors: nodes with nothing to match on.
            pl.concat([referenced.select("profile_id"), grouped.select("profile_id")])
            .unique()
            .join(named.select("profile_id"), on="profile_id", how="anti"),
        ],
        how="diagonal_relaxed",
    ).sort("profile_id")
    return attached, grouped, profiles.select(list(PROFILE_SCHEMA))


def _attach_events(groups: pl.DataFrame) -> pl.DataFrame:
    """Each group's profile: its customer's, else its device owner's, else its device's."""
    device_owner = (
        groups.filter(pl.col("device_id").is_not_null() & pl.col("crm_ref").is_not_null())
        .group_by("device_id")
        .agg(pl.col("crm_ref").unique())
        .filter(pl.col("crm_ref").list.len() == 1)
        .select("device_id", owner=pl.col("crm_ref").list.first())
    )
    customer, owner = pl.col("crm_ref"), pl.col("owner")
    return (
        groups.select(GROUP)
        .join(device_owner, on="device_id", how="left")
        .select(
            *GROUP,
            profile_id=pl.when(customer.is_not_null())
            .then(_crm_profile(customer))
            .when(owner.is_not_null())
            .then(_crm_profile(owner))
            .otherwise(pl.concat_str(pl.lit("device:"), "device_id")),
            attach_rule=pl.when(customer.is_not_null())
            .then(pl.lit("crm_id"))
            .when(owner.is_not_null())
            .then(pl.lit("device_login"))
            .otherwise(pl.lit(ANONYMOUS_DEVICE)),
        )
    )
