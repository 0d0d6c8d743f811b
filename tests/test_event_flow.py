"""Newsletter-grade events, from outside, against a running server.

The server's cron sends a closing_soon reminder; a resend brings the events
that happened while an endpoint was disabled, with their original
webhook-ids; the README's event catalogue is what the server sends.
"""

import json
import time
from datetime import timedelta

import pytest
from harness import (
    ROOT,
    Rpc,
    create_developer,
    cycle_values,
    readme_code_block,
    signing_secret,
    wait_for,
)
from receiver import Receiver
from standardwebhooks.webhooks import Webhook

CYCLE_CRON = "coop_developer_settings.ir_cron_process_due_sale_cycles"


@pytest.fixture(scope="module")
def newsletter_manager(odoo_server, admin):
    """A user of the main shop with the access, over XML-RPC."""
    login = "newsletter-manager"
    create_developer(admin, login, "Newsletter manager")
    return Rpc(odoo_server, login, f"{login}-pw")


def event_type(rpc, code):
    return rpc("coop.webhook.event.type", "search", [("code", "=", code)])[0]


def subscribe(rpc, code, url, **values):
    return rpc(
        "coop.webhook.endpoint",
        "create",
        {"event_type_id": event_type(rpc, code), "url": url, **values},
    )


def verified(admin, endpoint_id, request):
    secret = signing_secret(admin, endpoint_id)
    return Webhook(secret).verify(request["body"], request["headers"])


def open_cycle(admin, name, lasts):
    cycle_id = admin(
        "coop.sale.cycle",
        "create",
        cycle_values(name, opens_in=-timedelta(minutes=1), lasts=lasts),
    )
    admin("coop.sale.cycle", "action_open", [cycle_id])
    return cycle_id


def test_the_servers_cron_sends_closing_soon(odoo_server, admin, newsletter_manager):
    with Receiver() as receiver:
        # Open already, closing in 2 hours: the reminder is the cron's (3
        # hours ahead: other tests' cycles close a day after they open).
        cycle_id = open_cycle(admin, "Last call", lasts=timedelta(hours=2, minutes=1))
        endpoint_id = subscribe(
            newsletter_manager,
            "sale_cycle.closing_soon",
            receiver.url,
            lead_time_hours=3,
        )
        odoo_server.run_cron_now(admin, CYCLE_CRON)
        wait_for(lambda: receiver.requests, what="closing_soon from the cron")
        odoo_server.run_cron_now(admin, CYCLE_CRON)
        time.sleep(2)  # a second reminder would arrive now
    admin("coop.webhook.endpoint", "action_disable", [endpoint_id])
    [request] = receiver.requests
    payload = verified(admin, endpoint_id, request)
    assert payload["type"] == "sale_cycle.closing_soon"
    data = payload["data"]
    assert (data["id"], data["name"], data["state"]) == (cycle_id, "Last call", "open")
    assert 6600 < data["time_left"] <= 7260, data["time_left"]
    [event] = newsletter_manager(
        "coop.webhook.event",
        "search_read",
        [("public_id", "=", request["headers"]["webhook-id"])],
        fields=["event_type", "endpoint_id"],
    )
    assert event["event_type"] == "sale_cycle.closing_soon"
    assert event["endpoint_id"][0] == endpoint_id, "a reminder is one endpoint's"


def test_a_resend_brings_what_happened_while_disabled(
    odoo_server, admin, newsletter_manager
):
    with Receiver() as receiver:
        endpoint_id = subscribe(newsletter_manager, "sale_cycle.opened", receiver.url)
        open_cycle(admin, "Delivered at once", lasts=timedelta(days=2))
        [first_request] = wait_for(lambda: receiver.requests, what="the first delivery")
        # Resend since that event (earlier ones are other tests').
        since = json.loads(first_request["body"])["timestamp"]
        since = since.replace("T", " ").rstrip("Z")
        newsletter_manager("coop.webhook.endpoint", "action_disable", [endpoint_id])
        open_cycle(admin, "While disabled", lasts=timedelta(days=2))
        newsletter_manager("coop.webhook.endpoint", "action_enable", [endpoint_id])
        wizard_id = newsletter_manager(
            "coop.webhook.resend.wizard",
            "create",
            {"endpoint_id": endpoint_id, "since": since},
        )
        newsletter_manager("coop.webhook.resend.wizard", "action_resend", [wizard_id])
        wait_for(lambda: len(receiver.requests) >= 3, what="the resent events")
        time.sleep(1)  # a duplicate would arrive now
    newsletter_manager("coop.webhook.endpoint", "action_disable", [endpoint_id])
    events = newsletter_manager(
        "coop.webhook.event",
        "search_read",
        [("event_type", "=", "sale_cycle.opened"), ("occurred_at", ">=", since)],
        fields=["public_id"],
        order="id",
    )
    first, during = (event["public_id"] for event in events)
    received = [request["headers"]["webhook-id"] for request in receiver.requests]
    assert sorted(received) == sorted([first, first, during])
    for request in receiver.requests:
        payload = verified(admin, endpoint_id, request)
        assert payload["id"] == request["headers"]["webhook-id"]
    # The same event, sent twice: the same bytes.
    assert (
        len({r["body"] for r in receiver.requests if first in r["body"].decode()}) == 1
    )


def readme_examples(codes):
    """{event type: data} of the README's event catalogue, read for each of
    these event types; the README has no example of another one."""
    documented = (ROOT / "README.rst").read_text().count('"id": "evt_')
    assert documented == len(codes), "one README example per event type"
    examples = {}
    for code in codes:
        payload = json.loads(readme_code_block("json", f'"type": "{code}"'))
        examples[payload["type"]] = payload["data"]
    return examples


def test_the_readme_catalogue_is_what_is_sent(odoo_server, admin, newsletter_manager):
    """Every event type has its example in the README, with the keys sent."""
    with Receiver() as receiver:
        endpoints = [
            subscribe(newsletter_manager, code, receiver.url)
            for code in ("sale_cycle.opening_soon", "sale_cycle.closing_soon")
        ]
        scheduled_id = admin(
            "coop.sale.cycle",
            "create",
            cycle_values("Catalogue next", opens_in=timedelta(hours=2)),
        )
        admin("coop.sale.cycle", "action_schedule", [scheduled_id])
        cycle_id = open_cycle(admin, "Catalogue", lasts=timedelta(hours=3))
        admin("coop.sale.cycle", "action_close", [cycle_id])
        newsletter_manager(
            "coop.webhook.endpoint", "action_send_test_event", [endpoints[1]]
        )
        sent = {}
        for row in admin(
            "coop.webhook.event",
            "search_read",
            [
                "|",
                ("res_id", "in", [scheduled_id, cycle_id]),
                ("endpoint_id", "in", endpoints),
            ],
            # body: the JSON sent (XML-RPC cannot carry the nulls of data)
            fields=["event_type", "body"],
        ):
            sent[row["event_type"]] = json.loads(row["body"])["data"]
        for endpoint_id in endpoints:
            admin("coop.webhook.endpoint", "action_disable", [endpoint_id])
    types = admin("coop.webhook.event.type", "search_read", [], fields=["code"])
    examples = readme_examples([row["code"] for row in types])
    assert sorted(examples) == sorted(row["code"] for row in types)
    assert sorted(sent) == sorted(examples)
    for code, data in sent.items():
        assert sorted(examples[code]) == sorted(data), code
        assert sorted(examples[code]["company"]) == sorted(data["company"]), code
