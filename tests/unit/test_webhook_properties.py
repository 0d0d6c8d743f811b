"""Property-based tests (hypothesis) of the plain-Python webhook package:
bad input, at scale, without Odoo.

The package is imported by its name with Odoo out of reach: that it imports
is part of the proof that it does not depend on the ORM.
"""

import ipaddress
import json
import socket
import subprocess
import sys
import time
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from harness import ROOT
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples
from receiver import RawReceiver
from standardwebhooks.webhooks import Webhook
from strategies import urls

from coop_developer_settings.webhook import client, envelope, retry, signing, url_guard

PLAIN_MODULES = (
    "batch",
    "client",
    "envelope",
    "retry",
    "schemas",
    "settings",
    "signing",
    "url_guard",
)


def test_the_plain_package_imports_no_odoo():
    modules = ", ".join(f"coop_developer_settings.webhook.{m}" for m in PLAIN_MODULES)
    # sys.modules["odoo"] = None: any 'import odoo' fails
    code = f"import sys; sys.modules['odoo'] = None; import {modules}"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@settings(max_examples=examples(2000), deadline=None)
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


def ipv6(prefix, ipv4, suffix=0):
    """prefix (an int, its 32 bits above the IPv4 at offset) + ipv4."""
    return ipaddress.IPv6Address(prefix | int(ipv4) << suffix)


# Every IPv6 spelling of an IPv4 address (RFC 4291, 6052, 6145, 3056, 4380).
TRANSITION_FORMS = {
    "mapped": lambda v4, rest: ipv6(0xFFFF << 32, v4),
    "siit": lambda v4, rest: ipv6(0xFFFF << 48, v4),
    "nat64": lambda v4, rest: ipv6(0x64FF9B << 96, v4),
    "nat64-local": lambda v4, rest: ipv6((0x64FF9B << 96) | (1 << 80), v4),
    "compatible": lambda v4, rest: ipv6(0, v4),
    "6to4": lambda v4, rest: ipv6((0x2002 << 112) | (rest & (2**80 - 1)), v4, 80),
    "teredo": lambda v4, rest: ipv6(
        (0x20010000 << 96) | (int(v4) << 64) | (rest & (2**64 - 1)), 0
    ),
}


@settings(max_examples=examples(2000), deadline=None)
@given(
    ipv4=st.ip_addresses(v=4),
    form=st.sampled_from(sorted(TRANSITION_FORMS)),
    rest=st.integers(0, 2**80 - 1),
)
def test_ipv6_spellings_of_an_ipv4_are_no_more_public_than_it(ipv4, form, rest):
    address = TRANSITION_FORMS[form](ipv4, rest)
    public = url_guard.is_public(address)
    if public:
        embedded = url_guard.embedded_ipv4(address)
        assert embedded and all(url_guard.is_public(v4) for v4 in embedded)
        assert ipv4 in embedded or form == "teredo"
    if form in ("mapped", "siit", "nat64"):
        assert public == url_guard.is_public(ipv4), "the IPv4 itself decides"
    if form in ("nat64-local", "compatible", "teredo"):
        assert not public, "not globally reachable, whatever it carries"
    # The same check when saving a URL and when connecting.
    url = f"https://[{address}]/hook"
    try:
        url_guard.check_url(url)
        saved = True
    except url_guard.UnsafeUrl:
        saved = False
    assert saved == public
    try:
        url_guard.resolve(str(address), 443)
        connected = True
    except url_guard.UnsafeUrl:
        connected = False
    assert connected == public


@settings(max_examples=examples(1000), deadline=None)
@given(
    address=st.one_of(
        st.ip_addresses(),
        *[
            st.ip_addresses(network=network)
            for network in url_guard.NON_PUBLIC_NETWORKS + url_guard.TRANSLATED_PREFIXES
        ],
    )
)
def test_only_global_addresses_are_public(address):
    if url_guard.is_public(address):
        assert not any(address in n for n in url_guard.NON_PUBLIC_NETWORKS) or any(
            address in prefix for prefix in url_guard.TRANSLATED_PREFIXES
        )
        assert all(url_guard.is_public(v4) for v4 in url_guard.embedded_ipv4(address))
        if not url_guard.embedded_ipv4(address):
            assert address.is_global and not address.is_multicast


@settings(max_examples=examples(2000), deadline=None)
@given(
    address=st.one_of(
        st.ip_addresses(v=6),
        st.ip_addresses(network=url_guard.IPV6_GLOBAL_UNICAST),
        st.ip_addresses(network="::/8"),
        st.ip_addresses(network="fe00::/9"),
    )
)
@example(address=ipaddress.ip_address("::ffff:0:0:7f00:1"))
@example(address=ipaddress.ip_address("::1:0:0:1"))
@example(address=ipaddress.ip_address("4000::1"))
@example(address=ipaddress.ip_address("fe00::1"))
@example(address=ipaddress.ip_address("1::1"))
@example(address=ipaddress.ip_address("2606:4700:4700::1111"))
def test_ipv6_is_public_in_the_global_unicast_space_only(address):
    """Outside 2000::/3 (IETF-reserved, unassigned), only the IPv6 spellings
    of a public IPv4 pass; inside it, every global address passes."""
    public = url_guard.is_public(address)
    translated = any(address in prefix for prefix in url_guard.TRANSLATED_PREFIXES)
    if address not in url_guard.IPV6_GLOBAL_UNICAST and not translated:
        assert not public
        with pytest.raises(url_guard.UnsafeUrl):
            url_guard.check_url(f"https://[{address}]/hook")
        with pytest.raises(url_guard.UnsafeUrl):
            url_guard.resolve(str(address), 443)
    if (
        address in url_guard.IPV6_GLOBAL_UNICAST
        and address.is_global
        and not any(address in n for n in url_guard.NON_PUBLIC_NETWORKS)
        and all(url_guard.is_public(v4) for v4 in url_guard.embedded_ipv4(address))
    ):
        assert public, "a global unicast address stays accepted"


@settings(max_examples=examples(1000), deadline=None)
@given(
    host=st.one_of(
        st.text(min_size=1, max_size=30),
        st.from_regex(r"[a-zA-Z\u00c0-\u024f\u212a\u017f.-]{1,30}", fullmatch=True),
    )
)
def test_saved_hosts_are_ascii_and_normalised_once(host):
    try:
        saved = url_guard.check_url(f"https://{host}/hook")
    except url_guard.UnsafeUrl as exc:
        assert exc.code
        return
    hostname = urlsplit(saved).hostname
    assert hostname.isascii()
    assert url_guard.check_url(saved) == saved, "normalising twice changes nothing"
    assert hostname != "localhost" and not hostname.endswith(url_guard.LOCAL_NAMES)


@settings(max_examples=examples(1000), deadline=None)
@given(value=st.one_of(st.text(), st.from_regex(r"\d{1,6000}", fullmatch=True)))
def test_any_retry_after_parses_or_is_ignored(value):
    seconds = retry.parse_retry_after(value)
    assert seconds is None or 0 <= seconds <= retry.MAX_RETRY_AFTER


@settings(max_examples=examples(500), deadline=None)
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


json_objects = st.dictionaries(
    st.text(),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    ),
)


@settings(max_examples=examples(500), deadline=None)
@given(data=json_objects, seed=st.randoms())
def test_an_events_bytes_depend_on_its_data_not_on_its_key_order(data, seed):
    """What PostgreSQL's jsonb gives back has its own key order: the body of
    every attempt is the same whatever order the data was read in."""
    moment = datetime(2026, 12, 1, 8, 0, 3)
    body = envelope.body("evt_1", "sale_cycle.opened", moment, data)
    items = list(data.items())
    seed.shuffle(items)
    shuffled = json.loads(json.dumps(dict(items)))
    assert envelope.body("evt_1", "sale_cycle.opened", moment, shuffled) == body
    parsed = json.loads(body)
    assert parsed == {
        "id": "evt_1",
        "type": "sale_cycle.opened",
        "timestamp": "2026-12-01T08:00:03Z",
        "data": data,
    }


# ---------------------------------------------------------------------------
# Whatever a receiver answers, an attempt ends with an outcome, in time.
# ---------------------------------------------------------------------------

LOOPBACK = url_guard.parse_networks("127.0.0.0/8")
ANSWER_TIMEOUT = 1.0
header_values = st.one_of(
    st.binary(max_size=40),
    st.integers(-(2**70), 2**70).map(lambda n: str(n).encode()),
)
retry_afters = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "\xb2".encode("latin-1"),  # "²": str.isdigit() says yes
            b"9" * 5000,
            b"Wed, 21 Oct 2015 07:28:00 -0000",
            b"Wed, 21 Oct 2099 07:28:00 +0100",
            b"Fri, 31 Dec 9999 23:59:59 GMT",
            b"-1",
        ]
    ),
    header_values,
    st.text(max_size=30).map(lambda text: text.encode("utf-8")),
)
header_names = st.one_of(
    st.sampled_from(
        [
            b"Content-Length",
            b"Transfer-Encoding",
            b"Content-Encoding",
            b"Content-Type",
            b"Location",
        ]
    ),
    st.binary(min_size=1, max_size=12),
)
status_lines = st.one_of(
    # Mostly a real status line, so that the headers and body get read...
    st.builds(
        lambda status, reason: b"HTTP/1.1 %d %s" % (status, reason),
        st.integers(100, 599),
        st.sampled_from([b"OK", b"", b"\xff\x00 odd"]),
    ),
    # ... and sometimes anything.
    st.builds(
        lambda version, status, reason: b"%s %s %s" % (version, status, reason),
        st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"ICY", b""]),
        st.one_of(
            st.integers(0, 1000).map(lambda n: str(n).encode()), st.binary(max_size=5)
        ),
        st.binary(max_size=20),
    ),
    st.binary(max_size=60),
)
answers = st.tuples(
    status_lines,
    st.lists(st.tuples(header_names, header_values), max_size=5),
    retry_afters,
    st.sampled_from([True, True, True, False]),  # the blank line ending headers
    st.binary(max_size=3000),
    # then: close, reset, or hang until the client gives up
    st.sampled_from(["close"] * 6 + [RawReceiver.RESET] * 2 + [RawReceiver.HANG]),
)


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(answer=answers)
# The answers that crashed the delivery job, always among the examples.
@example(
    answer=(b"HTTP/1.1 503 Busy", [], "\xb2".encode("latin-1"), True, b"", "close")
)
@example(answer=(b"HTTP/1.1 503 Busy", [], b"9" * 5000, True, b"", "close"))
@example(
    answer=(
        b"HTTP/1.1 429 Slow down",
        [],
        b"Wed, 21 Oct 2015 07:28:00 -0000",
        True,
        b"",
        "close",
    )
)
@example(answer=(b"HTTP/1.1 200 OK", [], None, True, b"ok\x00\xff", "close"))
def test_any_answer_is_an_outcome_in_time(answer):
    status_line, headers, retry_after, blank_line, body, ending = answer
    if retry_after is not None:
        headers = [*headers, (b"Retry-After", retry_after)]
    raw = status_line + b"\r\n" + b"".join(b"%s: %s\r\n" % h for h in headers)
    raw += (b"\r\n" if blank_line else b"") + body
    steps = (raw,) if ending == "close" else (raw, ending)
    with RawReceiver(*steps) as receiver:
        started = time.monotonic()
        outcome = client.post(
            receiver.url,
            b'{"id":"evt_1"}',
            {"Content-Type": "application/json"},
            connect_timeout=ANSWER_TIMEOUT,
            total_timeout=ANSWER_TIMEOUT,
            allowed_networks=LOOPBACK,
        )
        elapsed = time.monotonic() - started
    assert elapsed < ANSWER_TIMEOUT + 1
    assert outcome.disposition in ("done", "retry", "gone", "failed")
    if outcome.status is None:  # no complete status line and headers
        assert outcome.disposition == "retry" and outcome.error
    else:
        assert outcome.disposition == client.classify(outcome.status)
    for text, limit in ((outcome.response, 2048), (outcome.error, 500)):
        assert len(text) <= limit and "\x00" not in text
        text.encode("utf-8")  # storable in PostgreSQL: no lone surrogate
    retry_after = outcome.retry_after
    assert retry_after is None or 0 <= retry_after <= retry.MAX_RETRY_AFTER


def test_a_name_that_does_not_resolve_is_temporary():
    """With the system's resolver: a name that does not exist is retried."""
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("no-such-host.invalid", 443)
    outcome = client.post(
        "https://no-such-host.invalid/hook",
        b"{}",
        {},
        connect_timeout=ANSWER_TIMEOUT,
        total_timeout=5,
    )
    assert outcome.disposition == "retry" and "name resolution" in outcome.error
