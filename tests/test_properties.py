"""Property-based tests (hypothesis) of bad input over RPC, at scale, on a
running server (those of the plain package are in tests/unit/)."""

import pytest
import requests
from harness import GROUP_XMLID, Rpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples
from strategies import urls


@pytest.fixture(scope="module")
def developer(odoo_server, admin):
    admin(
        "res.users",
        "create",
        {
            "name": "Property tester",
            "login": "property-tester",
            "password": "property-tester-pw",
            "groups_id": [
                (6, 0, [admin.ref("base.group_user"), admin.ref(GROUP_XMLID)])
            ],
        },
    )
    return Rpc(odoo_server, "property-tester", "property-tester-pw")


def json_rpc(server, user, model, method, *args):
    """execute_kw over JSON-RPC: it carries any string (XML-RPC cannot carry
    control characters at all). Returns (result, error name)."""
    response = requests.post(
        f"{server.url}/jsonrpc",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "service": "object",
                "method": "execute_kw",
                "args": [server.db, user.uid, user.password, model, method, list(args)],
            },
        },
        timeout=30,
    )
    assert response.status_code == 200, "never a 500"
    body = response.json()
    if "error" in body:
        return None, body["error"]["data"]["name"]
    return body["result"], None


def test_endpoint_inputs_over_rpc_never_500_nor_half_written(odoo_server, developer):
    event_types = developer("coop.webhook.event.type", "search", [])

    @settings(
        max_examples=examples(80),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        url=urls,
        event_type=st.one_of(st.sampled_from(event_types), st.integers(-5, 10**6)),
    )
    def check(url, event_type):
        before = developer("coop.webhook.endpoint", "search_count", [])
        new_id, error = json_rpc(
            odoo_server,
            developer,
            "coop.webhook.endpoint",
            "create",
            {"url": url, "event_type_id": event_type},
        )
        if error:
            # A user error with a message, never an internal error.
            assert error in USER_ERRORS, error
            after = developer("coop.webhook.endpoint", "search_count", [])
            assert after == before, "no half-written endpoint"
            return
        developer("coop.webhook.endpoint", "unlink", [new_id])

    check()


USER_ERRORS = ("odoo.exceptions.ValidationError", "odoo.exceptions.UserError")
