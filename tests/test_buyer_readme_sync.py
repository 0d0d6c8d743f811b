"""The README's buyer sync example, run as it is against a running server:
an opt-out and a removal made between two syncs reach the tool."""

import secrets
import xmlrpc.client

from harness import WebClient, readme_code_block


def test_opt_outs_and_removals_reach_the_readme_sync(odoo_server, admin):
    namespace = {}
    exec(readme_code_block("python", "def sync_buyers"), namespace)
    sync_buyers = namespace["sync_buyers"]
    key = WebClient(odoo_server, "admin", "admin").generate_api_key(
        "README sync", "admin"
    )["default_key"]
    tag = secrets.token_hex(3)
    ann, bea = (
        admin("res.partner", "create", {"name": name, "email": email})
        for name, email in (
            (f"Ann {tag}", f"ann-{tag}@example.org"),
            (f"Bea {tag}", f"bea-{tag}@example.org"),
        )
    )
    orders = {
        partner: admin("sale.order", "create", {"partner_id": partner})
        for partner in (ann, bea)
    }
    admin("sale.order", "action_confirm", list(orders.values()))

    subscribed, unsubscribed = {}, []

    def sync(cursor=None):
        return sync_buyers(
            odoo_server.url,
            key,
            cursor,
            subscribe=lambda buyer: subscribed.__setitem__(
                buyer["email_normalized"], buyer
            ),
            unsubscribe=unsubscribed.append,
        )

    cursor = sync()
    assert {f"ann-{tag}@example.org", f"bea-{tag}@example.org"} <= set(subscribed)
    assert not unsubscribed

    admin("mail.blacklist", "create", {"email": f"ann-{tag}@example.org"})
    admin(
        "sale.order",
        "action_cancel",
        [orders[bea]],
        context={"disable_cancel_warning": True},
    )
    cursor = sync(cursor)
    assert f"ann-{tag}@example.org" in unsubscribed, "the opt-out"
    assert f"bea-{tag}@example.org" in unsubscribed, "the removal"

    # A new address: the tool subscribes it and drops the one it had.
    admin("res.partner", "write", [bea], {"email": f"Bea <Bea.New-{tag}@Example.org>"})
    admin("sale.order", "action_draft", [orders[bea]])
    admin("sale.order", "action_confirm", [orders[bea]])
    unsubscribed.clear()
    sync(cursor)
    assert f"bea.new-{tag}@example.org" in subscribed
    # (Other tests' buyers may come too: only this test's are looked at. A
    # sync may return a row again, as the contract says, while a transaction
    # older than the last sync still runs on the server: Ann's opt-out.)
    mine = [address for address in unsubscribed if tag in address]
    assert f"bea-{tag}@example.org" in mine, "the previous address"
    assert set(mine) <= {f"bea-{tag}@example.org", f"ann-{tag}@example.org"}


def test_the_readme_buyer_page_call_runs_as_written(odoo_server, admin):
    """The XML-RPC buyer_page block, first without a cursor (XML-RPC cannot
    send None), then with the sync cursor it gave."""
    key = WebClient(odoo_server, "admin", "admin").generate_api_key(
        "README buyer_page", "admin"
    )["default_key"]
    url = odoo_server.url
    uid = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common").authenticate(
        odoo_server.db, "admin", key, {}
    )
    namespace = {
        "models": xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object"),
        "DB": odoo_server.db,
        "uid": uid,
        "KEY": key,
        "cursor": None,
    }
    block = readme_code_block("python", '"buyer_page"')
    exec(block, namespace)
    first = namespace["page"]
    assert set(first) == {"data", "next_cursor", "sync_cursor"}
    assert first["data"], "the demo data has buyers"
    assert {"email_normalized", "previous_email"} <= set(first["data"][0])
    namespace["cursor"] = first["sync_cursor"]
    exec(block, namespace)
    assert namespace["page"]["sync_cursor"]
