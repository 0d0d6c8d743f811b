"""The integration platform's path, from outside, against a running server.

A user generates scoped keys in the web client; a plain HTTP client
subscribes a webhook over /coop/api/v1/webhooks with the webhooks key, gets
a delivery signed with the secret it was given (verified by
standardwebhooks), unsubscribes, and gets nothing more. Then schemathesis
checks every route of the served OpenAPI document against the server.
"""

import os
import subprocess
import sys
import time
import xmlrpc.client
from datetime import timedelta

import pytest
import requests
from harness import DEV_LOGS, WebClient, create_developer, cycle_values, wait_for
from receiver import Receiver
from standardwebhooks.webhooks import Webhook

LOGIN = "integrator"


@pytest.fixture(scope="module")
def integrator(odoo_server, admin):
    """A user of the main shop with the access, in the web client."""
    create_developer(admin, LOGIN, "Integrator")
    return WebClient(odoo_server, LOGIN, f"{LOGIN}-pw")


def api(server, method, path, key, **kwargs):
    return requests.request(
        method,
        f"{server.url}/coop/api/v1/{path}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        **kwargs,
    )


def open_cycle(admin, name):
    cycle_id = admin(
        "coop.sale.cycle", "create", cycle_values(name, opens_in=-timedelta(minutes=1))
    )
    admin("coop.sale.cycle", "action_open", [cycle_id])
    return cycle_id


def test_a_platform_subscribes_and_unsubscribes_with_a_scoped_key(
    odoo_server, admin, integrator
):
    key = integrator.generate_api_key("n8n", f"{LOGIN}-pw", "coop.webhooks.manage")[
        "default_key"
    ]
    buyers_key = integrator.generate_api_key("Brevo", scope="coop.buyers.read")[
        "default_key"
    ]
    [listed] = integrator.call(
        "res.users.apikeys",
        "search_read",
        [[("name", "=", "n8n")]],
        {"fields": ["coop_access"]},
    )
    assert listed["coop_access"] == "Manage my webhooks"

    # Neither key logs in over XML-RPC; the buyer list key opens no webhooks.
    common = xmlrpc.client.ServerProxy(f"{odoo_server.url}/xmlrpc/2/common")
    assert common.authenticate(odoo_server.db, LOGIN, key, {}) is False
    assert common.authenticate(odoo_server.db, LOGIN, buyers_key, {}) is False
    refused = api(odoo_server, "GET", "webhooks", buyers_key)
    assert (refused.status_code, refused.json()["error"]) == (403, "insufficient_scope")

    with Receiver() as receiver:
        created = api(
            odoo_server,
            "POST",
            "webhooks",
            key,
            json={"event_type": "sale_cycle.opened", "url": receiver.url},
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        # It shows in the Developer settings tab.
        [me] = integrator.call(
            "res.users",
            "read",
            [[integrator.uid]],
            {"fields": ["coop_webhook_endpoint_ids"]},
        )
        assert me["coop_webhook_endpoint_ids"] == [hook["id"]]

        opened = open_cycle(admin, "API week")
        wait_for(lambda: receiver.requests, what="the webhook")
        payload = Webhook(hook["secret"]).verify(
            receiver.requests[0]["body"], receiver.requests[0]["headers"]
        )
        assert (payload["type"], payload["data"]["id"]) == ("sale_cycle.opened", opened)

        deleted = api(odoo_server, "DELETE", f"webhooks/{hook['id']}", key)
        assert deleted.status_code == 204
        assert api(odoo_server, "GET", "webhooks", key).json() == {"data": []}
        open_cycle(admin, "After unsubscribing")
        time.sleep(2)  # a delivery would arrive now
    assert len(receiver.requests) == 1


def test_schemathesis_finds_nothing(
    odoo_server, integrator, every_kind_of_buyer, tmp_path
):
    """Every documented route, with generated and invalid input, on a
    database holding every kind of buyer, and sequences of calls following
    the document's links (stateful: create a webhook, then test and delete
    it): no server error, and every answer as documented (status, content
    type, headers, body)."""
    web = WebClient(odoo_server, LOGIN, f"{LOGIN}-pw")  # a session of its own
    key = web.generate_api_key("schemathesis", f"{LOGIN}-pw")["default_key"]
    report = DEV_LOGS / "schemathesis.txt"
    result = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "schemathesis"),
            "run",
            f"{odoo_server.url}/coop/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {key}",
            "--checks",
            "all",
            # The document cannot say which URLs the URL guard accepts: a
            # valid body may be refused (422), as documented.
            "--exclude-checks",
            "positive_data_acceptance",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            "30",
            "--workers",
            "1",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its own files (.schemathesis/) stay out of the clone
        check=False,
    )
    report.write_text(result.stdout + result.stderr)
    # What it subscribed must not receive the other tests' events.
    for hook in api(odoo_server, "GET", "webhooks", key).json()["data"]:
        api(odoo_server, "DELETE", f"webhooks/{hook['id']}", key)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
