"""The plain-Python webhook package, on its own: no Odoo, no database."""

import ipaddress
import random
import socket
import time
import zlib
from datetime import datetime, timezone
from unittest import TestCase

from receiver import RawReceiver, Receiver
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from coop_developer_settings.webhook import batch, client, retry, signing, url_guard
from coop_developer_settings.webhook.settings import (
    DEFAULTS,
    InvalidSetting,
    WebhookSettings,
)

LOOPBACK = url_guard.parse_networks("127.0.0.0/8")
TIMEOUTS = {
    "connect_timeout": DEFAULTS.connect_timeout,
    "total_timeout": DEFAULTS.total_timeout,
}

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
    # IPv6 forms that carry an IPv4 address, and special IPv6 ranges
    ("https://[64:ff9b::7f00:1]/hook", "private_address"),  # NAT64 of 127.0.0.1
    ("https://[64:ff9b::a9fe:a9fe]/hook", "private_address"),  # of 169.254.169.254
    ("https://[64:ff9b:1::808:808]/hook", "private_address"),  # local-use NAT64
    ("https://[::127.0.0.1]/hook", "private_address"),  # IPv4-compatible
    ("https://[::8.8.8.8]/hook", "private_address"),  # IPv4-compatible: deprecated
    ("https://[::ffff:0:7f00:1]/hook", "private_address"),  # SIIT
    ("https://[::ffff:0:a00:1]/hook", "private_address"),  # SIIT of 10.0.0.1
    ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "private_address"),
    ("https://[fec0::1]/hook", "private_address"),  # site-local
    ("https://[2001:db8::1]/hook", "private_address"),
    ("https://[3fff::1]/hook", "private_address"),
    ("https://[5f00::1]/hook", "private_address"),
    ("https://[100::1]/hook", "private_address"),
    # IETF-reserved or unassigned: outside the global unicast space 2000::/3
    ("https://[::ffff:0:0:7f00:1]/hook", "private_address"),
    ("https://[::1:0:0:1]/hook", "private_address"),
    ("https://[1::1]/hook", "private_address"),
    ("https://[4000::1]/hook", "private_address"),
    ("https://[fe00::1]/hook", "private_address"),
    ("https://[e000::1]/hook", "private_address"),
    # Host names are IDNA (UTS-46) normalised, then checked
    ("https://localhoſt/hook", "private_address"),  # U+017F: localhost
    ("https://LOCALHOST/hook", "private_address"),
    ("https://①②⑦.0.0.1/hook", "private_address"),  # maps to 127.0.0.1
    ("https://☃.example/hook", "bad_host"),  # not allowed in host names
    ("https://xn--a.example/hook", "bad_host"),  # not valid punycode
    ("https://localhost/hook", "private_address"),
    ("https://printer.local/hook", "private_address"),
    ("https://metadata.google.internal/computeMetadata/v1/", "private_address"),
    ("https://exa mple.org/hook", "malformed"),
    ("https://example.org:99999/hook", "malformed"),
    ("https:///hook", "malformed"),
    ("https://exa_mple.org/hook", "bad_host"),
    ("https://93.184.216.34/\ud800", "malformed"),  # half of a UTF-16 pair
    ("https://hooks.example.org/\udfff", "malformed"),
    ("", "empty"),
    ("https://example.org/" + "a" * 2048, "too_long"),
]


class TestUrlGuard(TestCase):
    def test_refused_urls(self):
        self.assertGreaterEqual(len(REFUSED_URLS), 30)
        for url, code in REFUSED_URLS:
            with (
                self.subTest(url=url[:80]),
                self.assertRaises(url_guard.UnsafeUrl) as caught,
            ):
                url_guard.check_url(url)
            self.assertEqual(caught.exception.code, code, url[:80])

    def test_values_that_are_not_text(self):
        for value in (123, 1.5, ["https://example.org/"], b"https://example.org/"):
            with (
                self.subTest(value=value),
                self.assertRaises(url_guard.UnsafeUrl) as caught,
            ):
                url_guard.check_url(value)
            self.assertEqual(caught.exception.code, "malformed")

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

    def test_transition_forms_of_public_addresses_pass(self):
        for url in (
            "https://[64:ff9b::808:808]/hook",  # NAT64 of 8.8.8.8
            "https://[::ffff:8.8.8.8]/hook",
            "https://[::ffff:0:808:808]/hook",
            "https://[2002:808:808::1]/hook",  # 6to4 of 8.8.8.8
        ):
            self.assertEqual(url_guard.check_url(url), url)

    def test_host_names_are_stored_in_ascii(self):
        # U+212A KELVIN SIGN maps to "k" (UTS-46): a valid host, kept as such.
        self.assertEqual(
            url_guard.check_url("https://\u212aELVINK.com/x?a=1"),
            "https://kelvink.com/x?a=1",
        )
        self.assertEqual(
            url_guard.check_url("https://Bücher.Example:8443/x"),
            "https://xn--bcher-kva.example:8443/x",
        )

    def test_connect_time_check_of_ipv6_answers(self):
        """AAAA answers go through the same check as saved addresses."""

        def answers(*addresses):
            def getaddrinfo(host, port, **kwargs):
                return [
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
                    for address in addresses
                ]

            return getaddrinfo

        for address in (
            "64:ff9b::7f00:1",
            "::ffff:0:a9fe:a9fe",
            "fec0::1",
            "::ffff:0:0:7f00:1",
            "4000::1",
            "fe00::1",
        ):
            with self.subTest(address=address), self.assertRaises(url_guard.UnsafeUrl):
                url_guard.resolve(
                    "hooks.example.org", 443, getaddrinfo=answers(address)
                )
        self.assertEqual(
            url_guard.resolve(
                "hooks.example.org", 443, getaddrinfo=answers("64:ff9b::808:808")
            ),
            [ipaddress.ip_address("64:ff9b::808:808")],
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
                f"http://localhost:{receiver.port}/hook", b"{}", {}, **TIMEOUTS
            )
            self.assertEqual(outcome.disposition, "failed")
            self.assertIn("refused address", outcome.error)
            self.assertEqual(receiver.requests, [], "nothing reached the receiver")


class TestSigning(TestCase):
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


class TestRetrySchedule(TestCase):
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

    def test_any_retry_after_header_parses_or_is_ignored(self):
        now = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
        for value, expected in (
            ("\xb2", None),  # "²".isdigit() is true, int("²") fails
            ("\u0661\u0662", None),  # Arabic-Indic digits
            ("9" * 5000, retry.MAX_RETRY_AFTER),  # beyond int()'s digit limit
            ("Mon, 02 Mar 2026 09:00:00 -0000", 3600),  # no offset: UTC
            ("Mon, 02 Mar 2026 09:00:00 +0100", 0),
            ("Mon, 02 Mar 2026 09:00:00 GMT", 3600),
            ("Fri, 31 Dec 9999 23:59:59 GMT", retry.MAX_RETRY_AFTER),
            ("Mon, 02 Mar 2026 99:99:99 GMT", None),
            ("", None),
        ):
            with self.subTest(value=value[:40]):
                self.assertEqual(retry.parse_retry_after(value, now=now), expected)

    def test_schedules_are_bounded(self):
        for text in ("-1", "1,x", "99999999999", ",".join(["1"] * 51)):
            with self.subTest(text=text[:20]), self.assertRaises(ValueError):
                retry.parse_schedule(text)


class TestClient(TestCase):
    def post(self, receiver, **kwargs):
        """POST bytes that are no event (the receiver must not check them)."""
        return client.post(
            receiver.url, b"{}", {}, allowed_networks=LOOPBACK, **{**TIMEOUTS, **kwargs}
        )

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
            with (
                self.subTest(status=status),
                Receiver((status, {}, 0), events=False) as receiver,
            ):
                outcome = self.post(receiver)
                self.assertEqual(
                    (outcome.status, outcome.disposition), (status, expected)
                )

    def test_redirect_is_not_followed(self):
        with (
            Receiver(events=False) as target,
            Receiver((302, {"Location": "x"}, 0), events=False) as receiver,
        ):
            receiver.script = [(302, {"Location": target.url}, 0)]
            outcome = self.post(receiver)
            self.assertEqual(outcome.disposition, "failed")
            self.assertEqual(target.requests, [])

    def test_slow_receiver_times_out_and_is_retried(self):
        with Receiver((200, {}, 2), events=False) as receiver:
            outcome = self.post(receiver, total_timeout=0.5)
            self.assertEqual(outcome.disposition, "retry")
            self.assertIn("timeout", outcome.error)

    def assertEndsByTheDeadline(self, url, total_timeout, **kwargs):
        """POST to url: a timeout, within total_timeout (+ 1 s at most)."""
        started = time.monotonic()
        outcome = client.post(
            url,
            b"{}",
            {},
            connect_timeout=5,
            total_timeout=total_timeout,
            allowed_networks=LOOPBACK,
            **kwargs,
        )
        self.assertLess(time.monotonic() - started, total_timeout + 1, outcome)
        self.assertEqual(outcome.disposition, "retry", outcome)
        self.assertIn("timeout", outcome.error)

    def test_every_attempt_ends_by_its_deadline(self):
        """A fresh read timeout per read let these receivers keep an attempt
        open for minutes; the deadline ends them at the total timeout."""
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        stalling = {
            "body a byte at a time": ((head, *[b"x", 0.4] * 100), True),
            "headers a line at a time": (
                (b"HTTP/1.1 200 OK\r\n", *[b"X-Slow: 1\r\n", 0.4] * 100),
                True,
            ),
            "silent after reading the request": ((RawReceiver.HANG,), True),
            # The client's TLS hello gets no answer: the handshake never ends.
            "TLS handshake never completed": ((RawReceiver.HANG,), False),
        }
        for name, (steps, plain_http) in stalling.items():
            with (
                self.subTest(name),
                RawReceiver(*steps, read_request=plain_http) as receiver,
            ):
                self.assertEndsByTheDeadline(
                    receiver.url if plain_http else receiver.https_url, 1.5
                )

    # Odoo's test harness lets requests reach "localhost" only: the resolver
    # is given for these two (outside Odoo, tests/ uses the system's).
    def test_a_slow_resolver_gets_the_remaining_time_only(self):
        def slow_getaddrinfo(*args, **kwargs):
            time.sleep(5)
            return socket.getaddrinfo(*args, **kwargs)

        self.assertEndsByTheDeadline(
            "https://localhost/x", 1, getaddrinfo=slow_getaddrinfo
        )

    def test_a_name_that_does_not_resolve_is_retried(self):
        def no_such_name(host, *args, **kwargs):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        outcome = client.post(
            "https://localhost/x", b"{}", {}, getaddrinfo=no_such_name, **TIMEOUTS
        )
        self.assertEqual(outcome.disposition, "retry")
        self.assertIn("name resolution failed", outcome.error)

    def test_broken_answers_are_outcomes(self):
        for steps, status in (
            ((b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na\x00b",), 200),
            ((b"HTTP/1.1 503 No\r\nRetry-After: \xb2\r\n\r\n",), 503),
            ((b"garbage\x00\r\n\r\n",), None),
            ((RawReceiver.RESET,), None),
        ):
            with self.subTest(steps=steps), RawReceiver(*steps) as receiver:
                outcome = client.post(
                    receiver.url, b"{}", {}, allowed_networks=LOOPBACK, **TIMEOUTS
                )
                self.assertEqual(outcome.status, status, outcome)
                self.assertNotIn("\x00", outcome.response + outcome.error)

    def test_a_compressed_answer_is_not_decoded(self):
        """A few hundred bytes of stacked gzip decode to hundreds of MB, in
        one piece, out of the deadline's reach: identity is asked for, and
        whatever comes is kept as it came."""

        def gzip(data):
            compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            return compressor.compress(data) + compressor.flush()

        bomb = gzip(gzip(gzip(b"\0" * (64 << 20)) * 4))  # 256 MB of zeros
        answer = (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip, gzip\r\n"
            b"Content-Length: %d\r\n\r\n" % len(bomb)
        ) + bomb
        with RawReceiver(answer) as receiver:
            outcome = self.post(receiver)
        self.assertLess(len(bomb), 2048)
        self.assertEqual((outcome.status, outcome.disposition), (200, "done"))
        self.assertEqual(
            outcome.response, "(gzip, gzip, gzip-encoded answer, not decoded)"
        )
        self.assertLess(outcome.duration, 0.5, "nothing decoded")
        self.assertIn(b"\r\nAccept-Encoding: identity\r\n", receiver.requests[0])

    def test_connection_refused_is_retried(self):
        with Receiver() as receiver:
            url = receiver.url
        outcome = client.post(url, b"{}", {}, allowed_networks=LOOPBACK, **TIMEOUTS)
        self.assertEqual(outcome.disposition, "retry")


def sender(**kwargs):
    return client.Sender(allowed_networks=LOOPBACK, **{**TIMEOUTS, **kwargs})


class TestSender(TestCase):
    def test_the_connection_is_kept_alive_between_attempts(self):
        with Receiver(events=False, keep_alive=True) as receiver, sender() as send:
            outcomes = [send.post(receiver.url, b"{}", {}) for _ in range(3)]
        self.assertEqual([outcome.status for outcome in outcomes], [200] * 3)
        self.assertEqual(
            len({request["peer"] for request in receiver.requests}), 1, "one connection"
        )

    def test_a_kept_alive_connection_sends_without_delay(self):
        """Headers and body are two writes: without TCP_NODELAY the body
        waits for the receiver's delayed acknowledgement, ~40 ms each."""
        with Receiver(events=False, keep_alive=True) as receiver, sender() as send:
            send.post(receiver.url, b"{}", {})  # the connection is open
            started = time.monotonic()
            for _ in range(20):
                send.post(receiver.url, b"{}", {})
            elapsed = time.monotonic() - started
        self.assertEqual(len({request["peer"] for request in receiver.requests}), 1)
        self.assertLess(elapsed, 0.5, "20 attempts, not 20 delayed acknowledgements")

    def test_no_cookie_goes_from_one_attempt_to_the_next(self):
        """Attempts to one host share a session, whatever their endpoint's
        owner: what a receiver sets is not sent back."""
        cookie = {"Set-Cookie": "session=of-the-first-owner; Path=/"}
        with (
            Receiver((200, cookie, 0), events=False, keep_alive=True) as receiver,
            sender() as send,
        ):
            send.post(receiver.url + "/first-owner", b"{}", {})
            send.post(receiver.url + "/second-owner", b"{}", {})
        self.assertEqual(len({request["peer"] for request in receiver.requests}), 1)
        self.assertNotIn("Cookie", receiver.requests[1]["headers"])

    def test_each_thread_has_its_own_connection(self):
        with Receiver(events=False, keep_alive=True) as receiver, sender() as send:
            batch.send(
                [
                    batch.Attempt(i, "endpoint", receiver.url, b"{}", {})
                    for i in range(4)
                ],
                send,
                concurrency=2,
                per_endpoint=2,
                budget=60,
            )
        self.assertEqual(len({request["peer"] for request in receiver.requests}), 2)

    def test_a_kept_alive_connection_still_ends_by_the_attempts_deadline(self):
        """The second attempt reuses the connection of the first, and its
        answer drips: the deadline watches the reused connection too."""
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        with (
            RawReceiver(ok, RawReceiver.READ, head, *[b"x", 0.4] * 100) as receiver,
            sender(total_timeout=1.5) as send,
        ):
            self.assertEqual(send.post(receiver.url, b"{}", {}).status, 200)
            started = time.monotonic()
            outcome = send.post(receiver.url, b"{}", {})
            self.assertLess(time.monotonic() - started, 2.5, outcome)
            self.assertEqual(len(receiver.requests), 2, "on the same connection")
        self.assertEqual(outcome.disposition, "retry")
        self.assertIn("timeout", outcome.error)

    def test_interim_answers_are_read_past(self):
        """A 103 Early Hints (or 102) comes before the answer: the final
        one is the delivery's, and the connection stays usable."""
        hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
        processing = b"HTTP/1.1 102 Processing\r\n\r\n"
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        error = b"HTTP/1.1 500 Error\r\nContent-Length: 2\r\n\r\nno"
        with (
            RawReceiver(
                hints + processing + ok, RawReceiver.READ, hints + error
            ) as receiver,
            sender() as send,
        ):
            outcomes = [send.post(receiver.url, b"{}", {}) for _ in range(2)]
        self.assertEqual(
            [(outcome.status, outcome.disposition) for outcome in outcomes],
            [(200, "done"), (500, "retry")],
        )
        self.assertEqual(len(receiver.requests), 2, "on the same connection")

    def test_interim_answers_without_end_are_cut_by_the_deadline(self):
        hints = b"HTTP/1.1 103 Early Hints\r\n\r\n"
        with (
            RawReceiver(*[hints, 0.05] * 1000) as receiver,
            sender(total_timeout=1) as send,
        ):
            started = time.monotonic()
            outcome = send.post(receiver.url, b"{}", {})
            elapsed = time.monotonic() - started
        self.assertLess(elapsed, 2, outcome)
        self.assertEqual(outcome.disposition, "retry")
        self.assertIn("timeout", outcome.error)

    def test_switching_protocols_is_no_answer(self):
        switching = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        with RawReceiver(switching + ok) as receiver, sender() as send:
            outcomes = [send.post(receiver.url, b"{}", {}) for _ in range(2)]
        self.assertEqual(
            [(outcome.status, outcome.disposition) for outcome in outcomes],
            [(101, "retry")] * 2,
            "a new connection each time: the 200 after it is not read as the "
            "next attempt's answer",
        )

    def test_a_connection_cut_by_the_deadline_is_not_reused(self):
        with (
            Receiver((200, {}, 2), (200, {}, 0), events=False, keep_alive=True) as slow,
            sender(total_timeout=1) as send,
        ):
            self.assertIn("timeout", send.post(slow.url, b"{}", {}).error)
            self.assertEqual(send.post(slow.url, b"{}", {}).status, 200)
        first, second = slow.requests
        self.assertNotEqual(first["peer"], second["peer"])


class TestBatch(TestCase):
    def attempts(self, receiver, paths, count):
        return [
            batch.Attempt((path, i), path, f"{receiver.url}/{path}", b"{}", {})
            for i in range(count)
            for path in paths
        ]

    def test_concurrency_is_bounded_per_job_and_per_endpoint(self):
        with (
            Receiver((200, {}, 0.3), events=False, keep_alive=True) as receiver,
            sender() as send,
        ):
            attempts = self.attempts(receiver, "abc", 6)
            left = batch.send(attempts, send, concurrency=4, per_endpoint=2, budget=60)
        self.assertEqual(left, [])
        self.assertEqual(
            [attempt.outcome.status for attempt in attempts], [200] * len(attempts)
        )
        peaks = receiver.peak_in_flight
        self.assertEqual(set(peaks.values()), {2}, peaks)
        self.assertEqual(receiver.peak_total, 4)
        # 18 answers of 0.3 s, 4 at a time: 5 rounds, not 18 in a row.
        ends = [attempt.started_at + attempt.outcome.duration for attempt in attempts]
        self.assertLess(max(ends) - min(a.started_at for a in attempts), 3.5)

    def test_the_endpoints_take_turns(self):
        """More endpoints than threads: each one is served in turn, not
        one emptied after the other."""
        with (
            Receiver((200, {}, 0.2), events=False, keep_alive=True) as receiver,
            sender() as send,
        ):
            attempts = self.attempts(receiver, "abc", 4)
            batch.send(attempts, send, concurrency=2, per_endpoint=2, budget=60)
        order = [
            attempt.endpoint
            for attempt in sorted(attempts, key=lambda attempt: attempt.started_at)
        ]
        # Two threads: the third endpoint's first attempt starts with the
        # first thread freed, not after the first endpoint is emptied.
        self.assertEqual(set(order[:3]), {"a", "b", "c"}, order)

    def test_a_hanging_endpoint_holds_its_own_slots_only(self):
        with (
            RawReceiver(RawReceiver.HANG) as hanging,
            Receiver(events=False, keep_alive=True) as healthy,
            sender(total_timeout=2) as send,
        ):
            attempts = self.attempts(hanging, ["hang"], 4) + self.attempts(
                healthy, ["ok"], 20
            )
            started = time.time()
            batch.send(attempts, send, concurrency=4, per_endpoint=2, budget=60)
        by_endpoint = {}
        for attempt in attempts:
            by_endpoint.setdefault(attempt.endpoint, []).append(attempt)
        self.assertEqual(
            {a.outcome.disposition for a in by_endpoint["hang"]}, {"retry"}
        )
        self.assertEqual({a.outcome.status for a in by_endpoint["ok"]}, {200})
        healthy_end = max(a.started_at + a.outcome.duration for a in by_endpoint["ok"])
        self.assertLess(healthy_end - started, 1.5, "not behind the hanging one")

    def test_what_did_not_start_within_the_budget_is_returned_in_order(self):
        with (
            Receiver((200, {}, 1), events=False) as receiver,
            sender() as send,
        ):
            attempts = self.attempts(receiver, ["a"], 4)
            left = batch.send(attempts, send, concurrency=4, per_endpoint=1, budget=0.5)
        self.assertEqual(left, attempts[1:])
        self.assertEqual(attempts[0].outcome.status, 200)
        self.assertEqual([a.outcome for a in left], [None] * 3)
        self.assertEqual(len(receiver.requests), 1)


class TestSettings(TestCase):
    def test_defaults_and_parsing(self):
        self.assertEqual(WebhookSettings.from_params({}.get), DEFAULTS)
        params = {
            "coop_developer_settings.webhook_total_timeout": "2",
            "coop_developer_settings.webhook_allow_http": "True",
            "coop_developer_settings.allowed_private_networks": "10.1.0.0/16",
            "coop_developer_settings.webhook_retry_schedule": "1,2",
        }
        settings = WebhookSettings.from_params(params.get)
        self.assertEqual(settings.total_timeout, 2)
        self.assertTrue(settings.allow_http)
        self.assertEqual(settings.retry_schedule, (1, 2))
        self.assertEqual(
            settings.allowed_networks, (ipaddress.ip_network("10.1.0.0/16"),)
        )
        self.assertEqual(settings.connect_timeout, DEFAULTS.connect_timeout)

    def test_bad_values_fall_back_to_the_default_unless_strict(self):
        for name, value in (
            ("webhook_total_timeout", "0"),
            ("webhook_total_timeout", "soon"),
            ("webhook_total_timeout", "2.5"),
            ("webhook_connect_timeout", "-1"),
            ("webhook_retry_schedule", "5,-1"),
            ("allowed_private_networks", "not-a-network"),
            ("webhook_disable_after_days", "0"),
        ):
            params = {f"coop_developer_settings.{name}": value}
            with self.subTest(name=name, value=value):
                self.assertEqual(WebhookSettings.from_params(params.get), DEFAULTS)
                with self.assertRaises(InvalidSetting):
                    WebhookSettings.from_params(params.get, strict=True)
