"""The integrator's path, from outside, against a running server.

Admin grants the access, the user generates an API key through the web
client's own calls (with the password check), XML-RPC clients (plain
xmlrpc.client and odoorpc) log in with the key and register a webhook for
sale_cycle.opened, the cron opens a cycle, the receiver gets one signed POST
delivered by queue_job's runner, the buyer list API answers the same key;
once the key is revoked, everything refuses it.
"""

import time
import xmlrpc.client
from datetime import timedelta

import odoorpc
import requests
from harness import (
    GROUP_XMLID,
    Rpc,
    WebClient,
    cycle_values,
    signing_secret,
    wait_for,
)
from receiver import Receiver  # the addon tests' HTTP receiver (see conftest)
from standardwebhooks.webhooks import Webhook


def test_newsletter_tool_pulls_the_buyers_with_a_generated_key(odoo_server, admin):
    db = odoo_server.db
    demo_uid = admin("res.users", "search", [("login", "=", "demo")])[0]
    admin(
        "res.users", "write", [demo_uid], {"groups_id": [(4, admin.ref(GROUP_XMLID))]}
    )

    # The user generates a key in the Developer settings tab.
    web = WebClient(odoo_server, "demo", "demo")
    shown = web.generate_api_key("Brevo", "demo")
    key = shown["default_key"]
    assert len(key) == 40 and shown["default_coop_database"] == db

    # The newsletter tool logs in over XML-RPC with the key as password...
    tool = Rpc(odoo_server, "demo", key)
    assert tool.uid == demo_uid
    buyers = tool("coop.buyer", "search_read", [], fields=["name", "email", "opt_out"])
    assert buyers, "the demo data has buyers"
    # ... or with odoorpc, over JSON-RPC.
    client = odoorpc.ODOO("127.0.0.1", port=int(odoo_server.url.rsplit(":", 1)[1]))
    client.login(db, "demo", key)
    assert client.env["coop.buyer"].search_count([]) == len(buyers)

    # It registers its webhook for the opening of sale cycles.
    opened = tool(
        "coop.webhook.event.type", "search", [("code", "=", "sale_cycle.opened")]
    )
    with Receiver() as receiver:
        endpoint_id = tool(
            "coop.webhook.endpoint",
            "create",
            {"event_type_id": opened[0], "url": receiver.url},
        )
        # A cycle whose opening date has passed: the cron opens it.
        cycle_id = admin(
            "coop.sale.cycle",
            "create",
            cycle_values("Newsletter week", opens_in=-timedelta(minutes=1)),
        )
        admin("coop.sale.cycle", "action_schedule", [cycle_id])
        cron_id = admin.ref("coop_developer_settings.ir_cron_process_due_sale_cycles")
        admin("ir.cron", "method_direct_trigger", [cron_id])
        wait_for(lambda: receiver.requests, what="the webhook")
        time.sleep(1)  # a duplicate would arrive now
    assert len(receiver.requests) == 1, receiver.requests
    secret = signing_secret(admin, endpoint_id)
    request = receiver.requests[0]
    payload = Webhook(secret).verify(request["body"], request["headers"])
    assert payload["type"] == "sale_cycle.opened"
    assert payload["data"]["id"] == cycle_id and payload["data"]["state"] == "open"
    [delivery] = tool(
        "coop.webhook.delivery",
        "search_read",
        [("endpoint_id", "=", endpoint_id)],
        fields=["state", "attempt_count"],
    )
    assert (delivery["state"], delivery["attempt_count"]) == ("done", 1)

    # The buyer list API answers the same key.
    answer = requests.get(
        f"{odoo_server.url}/coop/api/v1/buyers",
        headers={"Authorization": f"Bearer {key}"},
        params={"limit": 200},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    # A contact without a name is null in JSON, false over XML-RPC.
    api_names = sorted(row["name"] or "" for row in answer.json()["data"])
    assert api_names == sorted(b["name"] or "" for b in buyers if not b["opt_out"])

    # The key's "last used" shows in the tab.
    [listed] = tool(
        "res.users.apikeys", "search_read", [], fields=["name", "last_used"]
    )
    assert listed["name"] == "Brevo" and listed["last_used"]

    # Revoked: refused everywhere.
    web.call("res.users.apikeys", "remove", [[listed["id"]]])
    common = xmlrpc.client.ServerProxy(f"{odoo_server.url}/xmlrpc/2/common")
    assert common.authenticate(db, "demo", key, {}) is False
    answer = requests.get(
        f"{odoo_server.url}/coop/api/v1/buyers",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_api_key")
