"""The README's buyer sync example, run as it is against a running server:
an opt-out and a removal made between two syncs reach the tool."""

import re
import secrets
import textwrap

from harness import ROOT, WebClient


def readme_python_block(containing):
    text = (ROOT / "README.rst").read_text()
    for block in re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text):
        if containing in block:
            return textwrap.dedent(block)
    raise AssertionError(f"no python block with {containing!r} in README.rst")


def test_opt_outs_and_removals_reach_the_readme_sync(odoo_server, admin):
    namespace = {}
    exec(readme_python_block("def sync_buyers"), namespace)
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
            subscribe=lambda buyer: subscribed.__setitem__(buyer["email"], buyer),
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
    sync(cursor)
    assert f"ann-{tag}@example.org" in unsubscribed, "the opt-out"
    assert f"bea-{tag}@example.org" in unsubscribed, "the removal"
