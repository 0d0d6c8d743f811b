# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The plain-Python webhook package, on its own (no database)."""

import ipaddress
import random
import socket
import time

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from odoo.tests import tagged
from odoo.tests.common import BaseCase

from ..webhook import client, retry, signing, url_guard
from .receiver import Receiver

LOOPBACK = url_guard.parse_networks("127.0.0.0/8")

# Refused when saved, with an empty allow-list (reason code after each).
REFUSED_URLS = [
    ("http://example.org/hook", "scheme"),
    ("ftp://example.org/hook", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://example.org/", "scheme"),
    ("//example.org/hook", "scheme"),
    ("https://user:pass@example.org/hook", "credentials"),
    ("https://user@example.org/hook", "credentials"),
    ("https://127.0.0.1/hook", "private_address"),
    ("https://127.1/hook", "private_address"),
    ("https://2130706433/hook", "private_address"),
    ("https://0x7f000001/hook", "private_address"),
    ("https://0177.0.0.1/hook", "private_address"),
    ("https://0x7f.0.0.1/hook", "private_address"),
    ("https://0/hook", "private_address"),
    ("https://0.0.0.0/hook", "private_address"),
    ("https://10.0.0.1/hook", "private_address"),
    ("https://172.16.5.4/hook", "private_address"),
    ("https://192.168.1.1/hook", "private_address"),
    ("https://100.64.0.1/hook", "private_address"),
    ("https://169.254.169.254/latest/meta-data/", "private_address"),
    ("https://224.0.0.1/hook", "private_address"),
    ("https://240.0.0.1/hook", "private_address"),
    ("https://255.255.255.255/hook", "private_address"),
    ("https://[::1]/hook", "private_address"),
    ("https://[::]/hook", "private_address"),
    ("https://[::ffff:127.0.0.1]/hook", "private_address"),
    ("https://[::ffff:169.254.169.254]/hook", "private_address"),
    ("https://[fd00:ec2::254]/hook", "private_address"),
    ("https://[fe80::1]/hook", "private_address"),
    ("https://[ff02::1]/hook", "private_address"),
    ("https://[2002:7f00:1::]/hook", "private_address"),
    ("https://localhost/hook", "private_address"),
    ("https://printer.local/hook", "private_address"),
    ("https://metadata.google.internal/computeMetadata/v1/", "private_address"),
    ("https://exa mple.org/hook", "malformed"),
    ("https://example.org:99999/hook", "malformed"),
    ("https:///hook", "malformed"),
    ("https://exa_mple.org/hook", "bad_host"),
    ("", "empty"),
    ("https://example.org/" + "a" * 2048, "too_long"),
]


@tagged("post_install", "-at_install")
class TestUrlGuard(BaseCase):
    def test_refused_urls(self):
        self.assertGreaterEqual(len(REFUSED_URLS), 30)
        for url, code in REFUSED_URLS:
            with (
                self.subTest(url=url[:80]),
                self.assertRaises(url_guard.UnsafeUrl) as caught,
            ):
                url_guard.check_url(url)
            self.assertEqual(caught.exception.code, code, url[:80])

    def test_accepted_urls(self):
        for url in (
            "https://hooks.example.org/webhook/abc?x=1",
            "https://93.184.216.34/hook",
            "https://[2606:4700:4700::1111]/hook",
            "https://n8n.example.coop:8443/webhook/123",
        ):
            self.assertEqual(url_guard.check_url(url), url)
        self.assertEqual(
            url_guard.check_url("http://example.org/h", allow_http=True),
            "http://example.org/h",
        )

    def test_allow_list_opens_named_ranges_only(self):
        url_guard.check_url("https://127.0.0.1:8080/hook", allowed_networks=LOOPBACK)
        with self.assertRaises(url_guard.UnsafeUrl):
            url_guard.check_url("https://10.0.0.1/hook", allowed_networks=LOOPBACK)
        with self.assertRaises(url_guard.UnsafeUrl):
            url_guard.parse_networks("not-a-network")

    def test_connect_time_check_of_a_name_resolving_to_loopback(self):
        """DNS rebinding: the name passes when saved, its address does not."""
        name = socket.gethostname()
        addresses = {
            ipaddress.ip_address(info[4][0].split("%")[0])
            for info in socket.getaddrinfo(name, 80)
        }
        self.assertTrue(
            addresses and not any(a.is_global for a in addresses),
            f"this test needs the host name {name} to resolve to a local address",
        )
        with Receiver() as receiver:
            url = f"https://{name}:{receiver.port}/hook"
            self.assertEqual(url_guard.check_url(url), url, "a name passes when saved")
            with self.assertRaises(url_guard.UnsafeUrl):
                url_guard.resolve(name, receiver.port)
            # Through the HTTP client too (Odoo's test harness lets only
            # "localhost" reach the network, a name resolving to loopback).
            outcome = client.post(
                f"http://localhost:{receiver.port}/hook", b"{}", {}, allowed_networks=()
            )
            self.assertEqual(outcome.disposition, "failed")
            self.assertIn("refused address", outcome.error)
            self.assertEqual(receiver.requests, [], "nothing reached the receiver")


@tagged("post_install", "-at_install")
class TestSigning(BaseCase):
    def test_reference_verifier_accepts_our_signatures(self):
        secret = signing.generate_secret()
        self.assertTrue(secret.startswith("whsec_"))
        self.assertGreaterEqual(len(secret), len("whsec_") + 32)
        body = '{"id":"evt_1","type":"webhook.test","data":{"name":"Été"}}'.encode()
        headers = signing.headers([secret], "evt_1", time.time(), body)
        payload = Webhook(secret).verify(body, headers)
        self.assertEqual(payload["data"]["name"], "Été")

    def test_rotation_signs_with_both_secrets(self):
        old, new = signing.generate_secret(), signing.generate_secret()
        body = b'{"id":"evt_2"}'
        headers = signing.headers([new, old], "evt_2", time.time(), body)
        self.assertEqual(len(headers["webhook-signature"].split(" ")), 2)
        for secret in (old, new):
            Webhook(secret).verify(body, headers)
        with self.assertRaises(WebhookVerificationError):
            Webhook(signing.generate_secret()).verify(body, headers)
        with self.assertRaises(WebhookVerificationError):
            Webhook(new).verify(body + b" ", headers)


@tagged("post_install", "-at_install")
class TestRetrySchedule(BaseCase):
    def test_schedule_with_jitter_then_exhausted(self):
        rng = random.Random(1)
        for attempt, planned in enumerate(retry.DEFAULT_SCHEDULE, start=1):
            delay = retry.next_delay(attempt, rng=rng)
            self.assertAlmostEqual(delay, planned, delta=planned * retry.JITTER)
        self.assertIsNone(retry.next_delay(len(retry.DEFAULT_SCHEDULE) + 1))

    def test_retry_after_is_honoured_within_bounds(self):
        rng = random.Random(2)
        self.assertGreaterEqual(retry.next_delay(1, retry_after=120, rng=rng), 120)
        self.assertLessEqual(
            retry.next_delay(1, retry_after=10**7, rng=rng), retry.MAX_RETRY_AFTER
        )
        self.assertGreater(retry.next_delay(2, retry_after=1, rng=rng), 200)
        self.assertEqual(retry.parse_retry_after("30"), 30)
        self.assertIsNone(retry.parse_retry_after("soon"))
        self.assertEqual(retry.parse_schedule("1, 2,3"), (1, 2, 3))


@tagged("post_install", "-at_install")
class TestClient(BaseCase):
    def post(self, receiver, **kwargs):
        return client.post(receiver.url, b"{}", {}, allowed_networks=LOOPBACK, **kwargs)

    def test_dispositions(self):
        for status, expected in (
            (200, "done"),
            (204, "done"),
            (301, "failed"),
            (400, "failed"),
            (410, "gone"),
            (429, "retry"),
            (500, "retry"),
            (503, "retry"),
        ):
            with self.subTest(status=status), Receiver((status, {}, 0)) as receiver:
                outcome = self.post(receiver)
                self.assertEqual(
                    (outcome.status, outcome.disposition), (status, expected)
                )

    def test_redirect_is_not_followed(self):
        with Receiver() as target, Receiver((302, {"Location": "x"}, 0)) as receiver:
            receiver.script = [(302, {"Location": target.url}, 0)]
            outcome = self.post(receiver)
            self.assertEqual(outcome.disposition, "failed")
            self.assertEqual(target.requests, [])

    def test_slow_receiver_times_out_and_is_retried(self):
        with Receiver((200, {}, 2)) as receiver:
            outcome = self.post(receiver, total_timeout=0.5)
            self.assertEqual(outcome.disposition, "retry")
            self.assertIn("timeout", outcome.error)

    def test_connection_refused_is_retried(self):
        with Receiver() as receiver:
            url = receiver.url
        outcome = client.post(url, b"{}", {}, allowed_networks=LOOPBACK)
        self.assertEqual(outcome.disposition, "retry")
