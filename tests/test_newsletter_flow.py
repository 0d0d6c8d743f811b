"""The integrator's path, from outside, against a running server.

Admin grants the access, the user generates an API key through the web
client's own calls (with the password check), an XML-RPC client logs in with
the key, registers a webhook for sale_cycle.opened, a cycle is opened by the
cron, the receiver gets one signed POST delivered by queue_job's runner, the
JSON API answers the same key; once the key is revoked, both refuse it.
"""

import json
import time
import xmlrpc.client
from datetime import datetime, timedelta

import requests
from receiver import Receiver  # the addon tests' HTTP receiver (see conftest)
from standardwebhooks.webhooks import Webhook

ADMIN = ("admin", "admin")
GROUP_XMLID = "coop_developer_settings.group_developer_settings"


class WebClient:
    """What the browser does: a session, then JSON-RPC calls of the UI."""

    def __init__(self, server, login, password):
        self.server = server
        self.session = requests.Session()
        answer = self.rpc(
            "/web/session/authenticate",
            {"db": server.db, "login": login, "password": password},
        )
        self.uid = answer["uid"]

    def rpc(self, path, params):
        response = self.session.post(
            self.server.url + path,
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        body = response.json()
        assert "error" not in body, body["error"]["data"]["message"]
        return body["result"]

    def call(self, model, method, args, kwargs=None):
        return self.rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )


def rpc_proxy(server, path):
    return xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/{path}", allow_none=True)


def test_newsletter_tool_pulls_the_buyers_with_a_generated_key(odoo_server):
    db = odoo_server.db
    common, models = rpc_proxy(odoo_server, "common"), rpc_proxy(odoo_server, "object")
    admin_uid = common.authenticate(db, *ADMIN, {})

    # The administrator grants the access to the demo user.
    demo_uid = models.execute_kw(
        db, admin_uid, ADMIN[1], "res.users", "search", [[("login", "=", "demo")]]
    )[0]
    group_id = models.execute_kw(
        db,
        admin_uid,
        ADMIN[1],
        "ir.model.data",
        "check_object_reference",
        GROUP_XMLID.split("."),
    )[1]
    models.execute_kw(
        db,
        admin_uid,
        ADMIN[1],
        "res.users",
        "write",
        [[demo_uid], {"groups_id": [(4, group_id)]}],
    )

    # The user generates a key in the Developer settings tab.
    web = WebClient(odoo_server, "demo", "demo")
    action = web.call("res.users", "action_coop_generate_api_key", [[web.uid]])
    wizard_id = web.call(
        action["res_model"], "create", [{"name": "Brevo", "duration": "30"}]
    )
    check = web.call("coop.api.key.wizard", "make_key", [[wizard_id]])
    assert check["res_model"] == "res.users.identitycheck", (
        "the password is asked first"
    )
    web.call(
        "res.users.identitycheck", "write", [[check["res_id"]], {"password": "demo"}]
    )
    shown = web.call("res.users.identitycheck", "run_check", [[check["res_id"]]])
    key = shown["context"]["default_key"]
    assert len(key) == 40 and shown["context"]["default_coop_database"] == db

    # The newsletter tool logs in over XML-RPC with the key as password.
    uid = common.authenticate(db, "demo", key, {})
    assert uid == demo_uid
    buyers = models.execute_kw(
        db,
        uid,
        key,
        "coop.buyer",
        "search_read",
        [[]],
        {"fields": ["name", "email", "opt_out"]},
    )
    assert buyers, "the demo data has buyers"

    # The tool registers its webhook for the opening of sale cycles, and the
    # administrator lets webhooks reach this test's receiver on loopback.
    for name, value in (
        ("allowed_private_networks", "127.0.0.0/8"),
        ("webhook_allow_http", "1"),
    ):
        models.execute_kw(
            db,
            admin_uid,
            ADMIN[1],
            "ir.config_parameter",
            "set_param",
            [f"coop_developer_settings.{name}", value],
        )
    opened_type = models.execute_kw(
        db,
        uid,
        key,
        "coop.webhook.event.type",
        "search",
        [[("code", "=", "sale_cycle.opened")]],
    )[0]
    with Receiver() as receiver:
        endpoint_id = models.execute_kw(
            db,
            uid,
            key,
            "coop.webhook.endpoint",
            "create",
            [{"event_type_id": opened_type, "url": receiver.url}],
        )
        # A cycle whose opening date has passed: the cron opens it.
        now = datetime.utcnow()
        cycle_id = models.execute_kw(
            db,
            admin_uid,
            ADMIN[1],
            "coop.sale.cycle",
            "create",
            [
                {
                    "name": "Newsletter week",
                    "date_open": (now - timedelta(minutes=1)).strftime(
                        "%Y-%m-%d %H:%M:%S"
                    ),
                    "date_close": (now + timedelta(days=7)).strftime(
                        "%Y-%m-%d %H:%M:%S"
                    ),
                }
            ],
        )
        models.execute_kw(
            db, admin_uid, ADMIN[1], "coop.sale.cycle", "action_schedule", [[cycle_id]]
        )
        cron_id = models.execute_kw(
            db,
            admin_uid,
            ADMIN[1],
            "ir.model.data",
            "check_object_reference",
            ["coop_developer_settings", "ir_cron_process_due_sale_cycles"],
        )[1]
        models.execute_kw(
            db, admin_uid, ADMIN[1], "ir.cron", "method_direct_trigger", [[cron_id]]
        )
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # a duplicate would arrive now
    assert len(receiver.requests) == 1, receiver.requests
    secret = models.execute_kw(
        db,
        admin_uid,
        ADMIN[1],
        "coop.webhook.endpoint",
        "read",
        [[endpoint_id], ["secret"]],
    )[0]["secret"]
    request = receiver.requests[0]
    payload = Webhook(secret).verify(request["body"], request["headers"])
    assert payload["type"] == "sale_cycle.opened"
    assert payload["data"]["id"] == cycle_id and payload["data"]["state"] == "open"
    [delivery] = models.execute_kw(
        db,
        uid,
        key,
        "coop.webhook.delivery",
        "search_read",
        [[("endpoint_id", "=", endpoint_id)]],
        {"fields": ["state", "attempt_count"]},
    )
    assert (delivery["state"], delivery["attempt_count"]) == ("done", 1)

    # ... and the buyer list API answers the same key.
    answer = requests.get(
        f"{odoo_server.url}/coop/api/v1/buyers",
        headers={"Authorization": f"Bearer {key}"},
        params={"limit": 200},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    api_names = sorted(row["name"] for row in answer.json()["data"])
    assert api_names == sorted(b["name"] for b in buyers if not b["opt_out"])

    # The key's "last used" shows in the tab.
    keys = web.call("res.users", "read", [[web.uid], ["coop_api_key_ids"]])[0]
    [listed] = web.call(
        "res.users.apikeys", "read", [keys["coop_api_key_ids"], ["name", "last_used"]]
    )
    assert listed["name"] == "Brevo" and listed["last_used"]

    # Revoked: refused everywhere.
    web.call("res.users.apikeys", "remove", [keys["coop_api_key_ids"]])
    assert common.authenticate(db, "demo", key, {}) is False
    answer = requests.get(
        f"{odoo_server.url}/coop/api/v1/buyers",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_api_key")
