"""Support tickets (unstructured): free text by topic and sentiment, as JSON lines.

Each day's tickets land as `tickets/tickets_YYYYMMDD.jsonl` in the landing zone: one JSON
object a line with `ticket_id`, `created_at` (ISO 8601, UTC), `channel` (email, chat,
phone, web), `subject`, `body` and `customer_email` as the customer typed it (missing on
some phone calls). Bodies are templated but varied: emails greet and sign off, chats are
short and casual, phone tickets are the agent's notes. Billing, shipping and returns
tickets often quote an order number (`#O000001234`), drawn from the orders the orders
family had open at the end of the previous day; without an orders family, none do.

Truth: `(tickets, ticket_id, person_id)` for every ticket, and the hidden topic, sentiment
and referenced order in `truth/tickets/day=NNNN.parquet`.
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import polars as pl

from simulator import noise
from simulator.context import DayContext, Emission, Emitted, write_atomically
from simulator.emitters.landing import open_landing, rows_checksum

NAME = "tickets"
ORDERS_STATE = "orders"  # the orders family's open orders, with person_id and order_id
DAILY_TICKET_RATE = 0.005  # tickets per person on a weekday
WEEKEND_FACTOR = 0.6
CHANNELS = ("email", "chat", "phone", "web")
CHANNEL_WEIGHTS = (0.4, 0.25, 0.15, 0.2)
TOPICS = ("billing", "shipping", "returns", "account", "product")
TOPIC_WEIGHTS = (0.2, 0.3, 0.2, 0.15, 0.15)
SENTIMENTS = ("positive", "neutral", "negative")
SENTIMENT_WEIGHTS = (0.15, 0.45, 0.4)
ORDER_TOPICS = ("billing", "shipping", "returns")
ORDER_BUYER_SHARE = 0.7  # of order-topic tickets written by someone with an open order
ORDER_REF_SHARE = 0.75  # of those that quote the order number
NO_EMAIL_SHARE = {"email": 0.0, "chat": 0.1, "phone": 0.4, "web": 0.0}

TRUTH_COLUMNS = {
    "ticket_id": pl.String,
    "person_id": pl.String,
    "topic": pl.String,
    "sentiment": pl.String,
    "order_id": pl.String,
}

SUBJECTS = {
    "billing": (
        "Charged twice",
        "Question about my invoice",
        "Refund not showing on my card",
        "Wrong amount charged",
        "Billing question",
    ),
    "shipping": (
        "Where is my order?",
        "Package hasn't arrived",
        "Delivery update",
        "Tracking number not working",
        "Shipping question",
    ),
    "returns": (
        "Return request",
        "How do I return an item?",
        "Exchange for a different size",
        "Return label",
        "Refund for returned item",
    ),
    "account": (
        "Can't log in",
        "Reset my password",
        "Update my email address",
        "Close my account",
        "Account question",
    ),
    "product": (
        "Question about {product}",
        "{product} stopped working",
        "Is the {product} back in stock?",
        "Feedback on {product}",
        "Product question",
    ),
}
SUBJECT_MOOD = {
    "positive": ("", "", "Thanks - ", "Quick note: "),
    "neutral": ("", "", "", "Re: "),
    "negative": ("", "URGENT: ", "Still waiting - ", "Complaint: "),
}
GREETINGS = ("Hi,", "Hello,", "Hi there,", "Dear support team,", "Good morning,", "Hey,")
OPENERS = {
    "positive": (
        "I just wanted to say thanks for the quick help last time.",
        "Love shopping with you, just one small thing.",
        "Great service so far, I only have a quick question.",
        "Your team has always been helpful, so here goes.",
    ),
    "neutral": (
        "I have a question.",
        "I'm writing about the following.",
        "Could you help me with something?",
        "Hoping you can clear something up for me.",
    ),
    "negative": (
        "I'm really frustrated.",
        "This is the third time I'm contacting you about this.",
        "Honestly this is unacceptable.",
        "I am very disappointed with how this has been handled.",
    ),
}
DETAILS = {
    "billing": (
        "I was charged ${amount} twice for the same purchase.",
        "My statement shows ${amount} but the total at checkout was lower.",
        "The refund of ${amount} you promised is still not on my card after {days} days.",
        "Can you send me an invoice with my company name on it?",
    ),
    "shipping": (
        "My package was supposed to arrive {days} days ago and it still isn't here.",
        "The tracking page has said 'in transit' for {days} days.",
        "The courier says it was delivered but there is nothing at my door.",
        "Can I change the delivery address before it ships?",
    ),
    "returns": (
        "The {product} isn't what I expected, I'd like to return it.",
        "I sent the {product} back {days} days ago and haven't heard anything.",
        "The {product} arrived damaged, how do I get a replacement?",
        "Can I exchange the {product} for another size?",
    ),
    "account": (
        "I can't log in, the reset link never arrives.",
        "Please change the email on my account, I don't use the old one anymore.",
        "My account got locked after too many attempts.",
        "I'd like to delete my account and all my data.",
    ),
    "product": (
        "The {product} stopped working after {days} days.",
        "Does the {product} come in other colors?",
        "Is the {product} compatible with what I already have?",
        "The {product} is great, will you restock it soon?",
    ),
}
ORDER_MENTIONS = (
    "My order number is {ref}.",
    "It's about order {ref}.",
    "Order {ref}.",
    "(order {ref})",
    "Reference: {ref}",
)
CLOSINGS = {
    "positive": ("Thanks so much!", "Appreciate it!", "Thanks in advance, you're the best."),
    "neutral": ("Thanks.", "Let me know.", "Thank you for your help.", "Looking forward to it."),
    "negative": (
        "Please sort this out today.",
        "I expect a refund or I will dispute the charge.",
        "If this isn't fixed I'm taking my business elsewhere.",
        "Very poor service.",
    ),
}
SIGN_OFFS = ("Thanks,\n{first}", "Best,\n{first} {last}", "{first}", "Regards,\n{first} {last}")
CHAT_OPENERS = {
    "positive": ("hi! quick one", "hey, thanks for being here :)", "hello!"),
    "neutral": ("hi", "hello, question", "hey"),
    "negative": ("hello?? anyone there", "this is ridiculous", "i need help NOW"),
}
AGENT_NOTES = {
    "positive": (
        "Customer was friendly and patient.",
        "Caller happy with the resolution.",
        "Pleasant call.",
    ),
    "neutral": ("Customer asked for an update.", "Informational call.", "Caller wants a callback."),
    "negative": (
        "Customer very upset, asked for a supervisor.",
        "Caller angry, threatened to cancel.",
        "Escalated: customer frustrated by repeated contact.",
    ),
}
PRODUCTS = (
    "headphones",
    "jacket",
    "sneakers",
    "coffee grinder",
    "backpack",
    "table lamp",
    "face cream",
    "smartwatch",
    "yoga mat",
    "skillet",
)


class TicketsSource:
    """The support desk: the day's tickets as JSON lines in the landing zone."""

    name = NAME

    def emit(self, ctx: DayContext) -> Emission:
        tickets = day_tickets(ctx)
        key = f"tickets/tickets_{ctx.date.strftime('%Y%m%d')}.jsonl"
        emitted = tickets.select(
            "ticket_id", "created_at", "channel", "subject", "body", "customer_email"
        )
        open_landing(ctx.settings).put(key, _json_lines(emitted))
        folder = ctx.truth_dir / NAME
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(
            tickets.select(TRUTH_COLUMNS.keys()), folder / f"day={ctx.day:04d}.parquet"
        )
        return Emission(
            datasets=[Emitted(key, emitted.height, rows_checksum(emitted))],
            truth=tickets.select(
                source=pl.lit(NAME), source_record_id="ticket_id", person_id="person_id"
            ),
        )


def day_tickets(ctx: DayContext) -> pl.DataFrame:
    """The tickets opened on `ctx.day`, in time order.

    Returns:
        ticket_id, created_at (ISO text), channel, subject, body, customer_email, and the
        hidden person_id, topic, sentiment and order_id (or null).
    """
    rng = ctx.rng("tickets")
    state = ctx.load_state(NAME)
    first_id = 1 if state is None else int(state["last_ticket"][0]) + 1
    weekend = ctx.date.weekday() >= 5
    count = int(
        rng.poisson(ctx.people.height * DAILY_TICKET_RATE * (WEEKEND_FACTOR if weekend else 1))
    )
    topic = rng.choice(len(TOPICS), count, p=TOPIC_WEIGHTS)
    sentiment = rng.choice(len(SENTIMENTS), count, p=SENTIMENT_WEIGHTS)
    channel = rng.choice(len(CHANNELS), count, p=CHANNEL_WEIGHTS)

    customers = ctx.people.filter(~pl.col("is_churned"))
    person = customers["person_id"].gather(rng.integers(0, customers.height, count)).to_list()
    order: list[str | None] = [None] * count
    open_orders = _open_orders(ctx)
    if open_orders.height:
        about_order = np.isin(topic, [TOPICS.index(t) for t in ORDER_TOPICS])
        buyer = about_order & (rng.random(count) < ORDER_BUYER_SHARE)
        picked = rng.integers(0, open_orders.height, count)
        quoted = rng.random(count) < ORDER_REF_SHARE
        for i in np.flatnonzero(buyer).tolist():
            person[i] = open_orders["person_id"][int(picked[i])]
            if quoted[i]:
                order[i] = open_orders["order_id"][int(picked[i])]

    who = pl.DataFrame({"person_id": person}, schema={"person_id": pl.String}).join(
        ctx.people, on="person_id", how="left", maintain_order="left"
    )
    rate = ctx.settings.simulator.typo_rate
    typed = noise.stray_case(noise.typo(who["email"].to_list(), rng, 2 * rate), rng, 0.05)
    no_email = rng.random(count) < np.array([NO_EMAIL_SHARE[c] for c in CHANNELS])[channel]
    emails = [None if gone else e for e, gone in zip(typed, no_email.tolist(), strict=True)]
    offsets = np.sort(rng.integers(0, 86_400, count))
    texts = [
        _write_ticket(
            rng,
            TOPICS[t],
            SENTIMENTS[s],
            CHANNELS[c],
            first,
            last,
            order_id,
        )
        for t, s, c, first, last, order_id in zip(
            topic.tolist(),
            sentiment.tolist(),
            channel.tolist(),
            who["first_name"].to_list(),
            who["last_name"].to_list(),
            order,
            strict=True,
        )
    ]
    ids = range(first_id, first_id + count)
    ctx.save_state(
        NAME,
        pl.DataFrame({"last_ticket": [first_id + count - 1]}, schema={"last_ticket": pl.Int64}),
    )
    return pl.DataFrame(
        {
            "ticket_id": [f"TCK-{i:07d}" for i in ids],
            "created_at": [
                (ctx.start + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")
                for s in offsets.tolist()
            ],
            "channel": [CHANNELS[c] for c in channel.tolist()],
            "subject": [subject for subject, _ in texts],
            "body": [body for _, body in texts],
            "customer_email": emails,
            "person_id": person,
            "topic": [TOPICS[t] for t in topic.tolist()],
            "sentiment": [SENTIMENTS[s] for s in sentiment.tolist()],
            "order_id": order,
        },
        schema={
            "ticket_id": pl.String,
            "created_at": pl.String,
            "channel": pl.String,
            "subject": pl.String,
            "body": pl.String,
            "customer_email": pl.String,
            **TRUTH_COLUMNS,
        },
    )


def _open_orders(ctx: DayContext) -> pl.DataFrame:
    """Orders still in progress at the end of yesterday (none without an orders family)."""
    orders = ctx.load_state(ORDERS_STATE)
    if orders is None or not {"order_id", "person_id"} <= set(orders.columns):
        return pl.DataFrame(schema={"order_id": pl.String, "person_id": pl.String})
    return orders.select("order_id", "person_id").drop_nulls().sort("order_id")


def _write_ticket(
    rng: np.random.Generator,
    topic: str,
    sentiment: str,
    channel: str,
    first: str,
    last: str,
    order_id: str | None,
) -> tuple[str, str]:
    """A subject and body for one ticket, in the channel's voice."""

    def pick(options: tuple[str, ...]) -> str:
        return options[int(rng.integers(0, len(options)))]

    slots = {
        "product": pick(PRODUCTS),
        "days": str(int(rng.integers(2, 21))),
        "amount": f"{rng.integers(5, 400)}.{rng.integers(0, 100):02d}",
        "first": first,
        "last": last,
    }
    ref = None if order_id is None else ("#" if rng.random() < 0.8 else "") + order_id
    subject = pick(SUBJECT_MOOD[sentiment]) + pick(SUBJECTS[topic]).format(**slots)
    detail = pick(DETAILS[topic]).format(**slots)
    mention = None if ref is None else pick(ORDER_MENTIONS).format(ref=ref)
    if channel == "phone":
        summary = f"Customer called about {topic}: {detail[0].lower()}{detail[1:]}"
        lines = [summary, mention, pick(AGENT_NOTES[sentiment])]
        body = " ".join(line for line in lines if line)
    elif channel == "chat":
        body = " ".join(part for part in (pick(CHAT_OPENERS[sentiment]), detail, mention) if part)
        if rng.random() < 0.4:
            body = body.lower()
    else:
        parts = [pick(OPENERS[sentiment]), detail, mention, pick(CLOSINGS[sentiment])]
        text = " ".join(part for part in parts if part)
        if channel == "web":
            body = text
        else:
            body = f"{pick(GREETINGS)}\n\n{text}\n\n{pick(SIGN_OFFS).format(**slots)}"
    if sentiment == "negative" and rng.random() < 0.1:
        subject = subject.upper()
    return subject, body


def _json_lines(rows: pl.DataFrame) -> bytes:
    return "".join(
        json.dumps(row, ensure_ascii=False) + "\n" for row in rows.iter_rows(named=True)
    ).encode()
