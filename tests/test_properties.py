"""Property-based tests (hypothesis) of bad input, at scale.

The plain-Python webhook package is loaded on its own, without Odoo: that it
imports is part of the proof that it does not depend on the ORM.
"""

import ipaddress
import json
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests
from harness import ADDON, GROUP_XMLID, ROOT, Rpc, plain_webhook_package
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

PLAIN = plain_webhook_package()
url_guard, signing = PLAIN["url_guard"], PLAIN["signing"]


def test_the_plain_package_imports_no_odoo():
    package = ROOT / ADDON / "webhook"
    init = package / "__init__.py"
    code = (
        "import sys, importlib.util;"
        "sys.modules['odoo'] = None;"  # any 'import odoo' now fails
        f"spec = importlib.util.spec_from_file_location('w', {str(init)!r},"
        f" submodule_search_locations=[{str(package)!r}]);"
        "m = importlib.util.module_from_spec(spec); sys.modules['w'] = m;"
        "spec.loader.exec_module(m);"
        "import w.client, w.retry, w.signing, w.url_guard"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


hosts = st.one_of(
    st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,12}){0,3}", fullmatch=True),
    st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip)),
    st.integers(0, 2**32 - 1).map(str),
    st.integers(0, 2**32 - 1).map(hex),
    st.text(max_size=20),
)
urls = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda scheme,
        creds,
        host,
        port,
        path: f"{scheme}://{creds}{host}{port}/{path}",
        st.sampled_from(["https", "http", "HTTPS", "ftp", "file", "javascript", ""]),
        st.sampled_from(["", "user@", "user:pw@", ":@"]),
        hosts,
        st.sampled_from(["", ":443", ":8080", ":0", ":99999", ":-1"]),
        st.text(max_size=30),
    ),
)


@settings(max_examples=2000, deadline=None)
@given(url=urls, allow_http=st.booleans())
def test_accepted_urls_are_public_web_urls(url, allow_http):
    try:
        accepted = url_guard.check_url(url, allow_http=allow_http)
    except url_guard.UnsafeUrl as exc:
        assert exc.code  # refused with a reason, never another exception
        return
    parts = urlsplit(accepted)
    assert parts.scheme.lower() in (("https", "http") if allow_http else ("https",))
    assert parts.username is None and parts.password is None
    assert len(accepted) <= url_guard.MAX_URL_LENGTH
    address = url_guard.literal_ip(parts.hostname)
    if address is not None:
        assert url_guard.is_public(address)
        mapped = getattr(address, "ipv4_mapped", None)
        assert mapped is None or mapped.is_global
    else:
        assert parts.hostname not in ("localhost",)


@settings(max_examples=500, deadline=None)
@given(address=st.ip_addresses())
def test_only_global_addresses_are_public(address):
    if url_guard.is_public(address):
        assert address.is_global and not address.is_multicast
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            assert address.ipv4_mapped.is_global


@settings(max_examples=500, deadline=None)
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    ),
    message_id=st.from_regex(r"[A-Za-z0-9_]{1,40}", fullmatch=True),
    rotated=st.booleans(),
)
def test_signatures_round_trip_with_the_reference_verifier(data, message_id, rotated):
    # Bodies are JSON, as the deliveries' (the reference verifier parses them).
    body = json.dumps({"id": message_id, "data": data}, ensure_ascii=False).encode()
    secret, old = signing.generate_secret(), signing.generate_secret()
    secrets = [secret, old] if rotated else [secret]
    headers = signing.headers(secrets, message_id, time.time(), body)
    for key in secrets:
        Webhook(key).verify(body, headers)


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
        max_examples=80,
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
