"""A user with the access, attacking another one's data over the web
client's and XML-RPC's own calls, against a running server."""

import secrets

import pytest
from harness import GROUP_XMLID, Rpc, WebClient


@pytest.fixture(scope="module")
def two_developers(odoo_server, admin):
    """(login, password) of two users with the access, in the main shop."""
    users = []
    for name in ("victim", "attacker"):
        login = f"hostile-{name}-{secrets.token_hex(2)}"
        admin(
            "res.users",
            "create",
            {
                "name": f"Hostile test {name}",
                "login": login,
                "password": f"{login}-pw",
                "groups_id": [
                    (6, 0, [admin.ref("base.group_user"), admin.ref(GROUP_XMLID)])
                ],
            },
        )
        users.append((login, f"{login}-pw"))
    return users


def call(web, model, method, args, kwargs=None):
    """The web client's call_kw; returns (result, error name)."""
    body = web.session.post(
        f"{web.server.url}/web/dataset/call_kw/{model}/{method}",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "model": model,
                "method": method,
                "args": args,
                "kwargs": kwargs or {},
            },
        },
        timeout=30,
    ).json()
    if "error" in body:
        return None, body["error"]["data"]["name"]
    return body["result"], None


def test_another_users_api_key_wizard_is_out_of_reach(odoo_server, two_developers):
    (victim, victim_pw), (attacker, attacker_pw) = two_developers
    victim_web = WebClient(odoo_server, victim, victim_pw)
    wizard_id = victim_web.call(
        "coop.api.key.wizard", "create", [{"name": "Victim's key", "duration": "1"}]
    )
    web = WebClient(odoo_server, attacker, attacker_pw)
    denied = "odoo.exceptions.AccessError"
    assert call(web, "coop.api.key.wizard", "read", [[wizard_id], ["name"]]) == (
        None,
        denied,
    )
    assert call(
        web, "coop.api.key.wizard", "write", [[wizard_id], {"name": "Mine now"}]
    ) == (None, denied)
    # make_key asks for the attacker's own password first, then refuses.
    check, error = call(web, "coop.api.key.wizard", "make_key", [[wizard_id]])
    assert error is None and check["res_model"] == "res.users.identitycheck"
    web.call(
        "res.users.identitycheck",
        "write",
        [[check["res_id"]], {"password": attacker_pw}],
    )
    assert call(web, "res.users.identitycheck", "run_check", [[check["res_id"]]]) == (
        None,
        denied,
    )
    [attacker_row] = web.call("res.users", "read", [[web.uid], ["api_key_ids"]])
    assert attacker_row["api_key_ids"] == [], "no key made from the victim's wizard"
    assert victim_web.call("coop.api.key.wizard", "read", [[wizard_id], ["name"]])


def test_an_endpoint_is_never_handed_to_another_user(
    odoo_server, admin, two_developers
):
    (victim, _victim_pw), (attacker, attacker_pw) = two_developers
    rpc = Rpc(odoo_server, attacker, attacker_pw)
    opened = rpc(
        "coop.webhook.event.type", "search", [("code", "=", "sale_cycle.opened")]
    )[0]
    endpoint_id = rpc(
        "coop.webhook.endpoint",
        "create",
        {"event_type_id": opened, "url": "https://hooks.example.org/hostile"},
    )
    web = WebClient(odoo_server, attacker, attacker_pw)
    [victim_uid] = admin("res.users", "search", [("login", "=", victim)])
    for vals in (
        {"user_id": victim_uid},
        {"enabled_at": "2099-01-01 00:00:00"},
        {"previous_secret_until": "2099-01-01 00:00:00"},
    ):
        assert call(web, "coop.webhook.endpoint", "write", [[endpoint_id], vals]) == (
            None,
            "odoo.exceptions.AccessError",
        ), vals
    [row] = rpc("coop.webhook.endpoint", "read", [endpoint_id], ["user_id"])
    assert row["user_id"][0] == rpc.uid
    rpc("coop.webhook.endpoint", "unlink", [endpoint_id])
