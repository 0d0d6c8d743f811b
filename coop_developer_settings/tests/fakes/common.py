# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The tests' HTTP servers on 127.0.0.1 (LocalHTTPServer, send_answer: the
provider fakes here and receiver.py's webhook receiver), and what the
provider fakes share: an HTTP server on 127.0.0.1 that routes
requests to the fake's handlers, records each one, and records a contract
violation for any request outside the provider's documented contract
(unknown path or method, wrong authentication form, a batch too big, a body
of the wrong shape, a request sent before the announced rate-limit reset).
Leaving the ``with`` block fails the test when there was any.

Hostile modes answer every request badly while set (``fake.hostile``):
``html`` (a 502 error page), ``malformed`` (cut JSON), ``huge`` (3 MB),
``drip`` (a body one byte every 0.2 s), ``gzip`` (an encoding not asked for).
``throttle(count, reset)`` answers the next requests 429; after
``down_after`` more requests, every one is answered 503.

``rewrite(method, pattern, function)``: the answers of those requests
passed through function(reply) once their handler ran (a provider that did
what was asked and answers badly: no id, ids with path characters, a 500).

``latency``: seconds before each answer (an internet-like provider).
``rate_limits``: the provider's request quotas, kept like the provider
keeps them (the fake's ``published_rate_limits``, for the benchmarks):
(path pattern after the prefix, requests, window in seconds), every
quota whose pattern matches a request counting it; a request over one is
answered 429 announcing when the quota has room again, and one sent before
that is a contract violation.
"""

import gzip
import json
import re
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 20 << 20  # bytes a fake reads of a request body
HUGE = 3 << 20
HOSTILE_MODES = ("html", "malformed", "huge", "drip", "gzip")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (a deadline, a server killed) is no error
        # of the test server's.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return None
        return super().handle_error(request, client_address)


class LocalHTTPServer:
    """A threading HTTP server on 127.0.0.1 (on a free port unless given),
    serving in a thread for the time of a ``with`` block. Leaving the block
    without an exception fails the test when ``failures()`` lists any."""

    def __init__(self, handler, port=0):
        self.server = _Server(("127.0.0.1", port), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def failures(self):
        """What went wrong: (a title, the list of the problems)."""
        return "", []

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, exc_type, *exc):
        self.server.shutdown()
        self.server.server_close()
        title, problems = self.failures()
        if exc_type is None and problems:
            raise AssertionError(f"{title}: " + "; ".join(problems))


def send_answer(http, status, body=b"", headers=None):
    """Answer the request http handles: status, the headers, the body (its
    Content-Length added)."""
    http.send_response(status)
    for name, value in (headers or {}).items():
        http.send_header(name, str(value))
    http.send_header("Content-Length", str(len(body)))
    http.end_headers()
    http.wfile.write(body)


class Reply:
    """A handler's answer: status, JSON body (None: empty), headers, and
    seconds to wait before sending it (what the handler did is done: a
    client that gives up meanwhile does not know it)."""

    def __init__(self, status, body=None, headers=None, delay=0.0):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.delay = delay


class Quota:
    """Requests allowed per window on the paths of a pattern."""

    def __init__(self, pattern, count, window):
        self.pattern = pattern
        self.count = count
        self.window = window
        self.sent = deque()  # monotonic times of the requests counted
        self.limited_until = 0.0
        self.refused = 0  # requests answered 429


class FakeProvider(LocalHTTPServer):
    prefix = ""  # the API's path prefix (/v3, /3.0)
    error_type = "application/json"  # the Content-Type of its error bodies
    max_in_flight = None  # concurrent requests the provider accepts
    published_rate_limits = ()  # (path pattern, requests, window seconds)

    def __init__(self, key, *, latency=0.0, rate_limits=()):
        self.key = key
        self.latency = latency  # seconds before each answer
        self.quotas = [
            Quota(re.compile(f"^{pattern}$"), count, window)
            for pattern, count, window in rate_limits
        ]
        self.requests = []  # {"method", "path", "query", "body"}
        self.violations = []
        self.hostile = None
        self.lock = threading.RLock()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.down_after = None  # requests answered before the provider goes down (503)
        self.rewrites = []  # (method, compiled path pattern, function(reply))
        self._throttled = 0
        self._throttle_reset = 0.0
        self._limited_until = 0.0
        self.routes = [
            (method, re.compile(f"^{pattern}$"), handler)
            for method, pattern, handler in self.route_table()
        ]
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):
                fake._serve(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def log_message(self, *args):
                pass

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}{self.prefix}"

    # To be provided by each fake.
    def route_table(self):
        """(method, path pattern after the prefix, handler(request, match))."""
        return []

    def authenticate(self, headers):
        """None (the right key), "wrong" (a key, not this one), or the
        violation that the authentication form is."""
        raise NotImplementedError

    def error(self, status, message):
        """The provider's error body."""
        raise NotImplementedError

    def limit_headers(self, reset):
        return {}

    # Test controls.
    def throttle(self, count, reset=1.0):
        """The next count requests are answered 429, announcing reset."""
        with self.lock:
            self._throttled = count
            self._throttle_reset = reset

    def rewrite(self, method, pattern, function):
        """Pass the answers of method on paths matching pattern (after the
        prefix) through function(reply), after their handler ran."""
        with self.lock:
            self.rewrites.append((method, re.compile(f"^{pattern}$"), function))

    def violation(self, text):
        with self.lock:
            self.violations.append(text)

    def calls(self, method=None, path=None):
        return [
            request
            for request in self.requests
            if (method is None or request["method"] == method)
            and (path is None or re.fullmatch(path, request["path"]))
        ]

    def failures(self):
        title = f"{type(self).__name__}: requests outside the provider's contract"
        return title, self.violations

    # Serving.
    def _serve(self, http):
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            too_many = self.max_in_flight and self.in_flight > self.max_in_flight
        try:
            reply = self._reply(http, too_many)
            if reply is not None:
                time.sleep(reply.delay)  # outside the lock
                self._send(http, reply)
        except OSError:
            return  # the client gave up (deadline tests)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _reply(self, http, too_many):
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(min(length, MAX_BODY + 1))
        request = {
            "method": http.command,
            "path": parts.path,
            "query": {
                name: values[-1] for name, values in parse_qs(parts.query).items()
            },
            "headers": dict(http.headers),
            "raw": raw,
            "body": None,
        }
        with self.lock:
            self.requests.append(request)
        where = f"{http.command} {parts.path}"
        if length > MAX_BODY:
            self.violation(f"{where}: a body of {length} bytes")
            return Reply(413, self.error(413, "Request entity too large"))
        refused = self.parse_body(request, where)
        if refused:
            return refused
        if raw and "application/json" not in http.headers.get("Content-Type", ""):
            self.violation(f"{where}: JSON sent without its Content-Type")
        auth = self.authenticate(http.headers)
        if auth not in (None, "wrong"):
            self.violation(f"{where}: {auth}")
        if auth is not None:
            return Reply(401, self.error(401, "Key not found"))
        if too_many:
            self.violation(
                f"{where}: more than {self.max_in_flight} connections at once"
            )
            return Reply(429, self.error(429, "Too many concurrent connections"))
        refused = self._limited(where) or self._over_quota(
            where, parts.path[len(self.prefix) :]
        )
        if refused:
            return refused
        if self.hostile:
            return self._hostile(http)
        if self.latency:
            time.sleep(self.latency)
        return self.dispatch(request, where)

    def parse_body(self, request, where):
        """Its raw body parsed into request["body"]; None, or a violation
        and the provider's 400 when it is not JSON."""
        if request["raw"]:
            try:
                request["body"] = json.loads(request["raw"])
            except ValueError:
                self.violation(f"{where}: a body that is not JSON")
                return Reply(400, self.error(400, "Invalid JSON"))
        return None

    def dispatch(self, request, where, exclude=()):
        """The reply of the handler of the request's method and path (none
        of exclude); a violation and a 404 when there is none."""
        path = request["path"]
        for method, pattern, handler in self.routes:
            match = pattern.match(path[len(self.prefix) :])
            if (
                match
                and path.startswith(self.prefix)
                and method == request["method"]
                and handler not in exclude
            ):
                with self.lock:
                    reply = handler(request, match)
                    for verb, path, function in self.rewrites:
                        if verb == method and path.match(match.string):
                            reply = function(reply)
                    return reply
        self.violation(f"{where}: no such endpoint")
        return Reply(404, self.error(404, "Not found"))

    def _limited(self, where):
        """The answer of a provider down or rate limiting, or None."""
        now = time.monotonic()
        with self.lock:
            if now < self._limited_until:
                self.violation(f"{where}: sent before the announced rate-limit reset")
                left = self._limited_until - now
                return Reply(
                    429, self.error(429, "Too many requests"), self.limit_headers(left)
                )
            if self.down_after is not None:
                if self.down_after == 0:
                    return Reply(503, self.error(503, "Service Unavailable"))
                self.down_after -= 1
            if self._throttled:
                self._throttled -= 1
                reset = self._throttle_reset
                if self.limit_headers(reset):  # a reset announced is a reset to honour
                    self._limited_until = now + reset * 0.9
                return Reply(
                    429, self.error(429, "Too many requests"), self.limit_headers(reset)
                )
        return None

    def _over_quota(self, where, path):
        """The 429 of a request over a rate-limit quota of its path, or None."""
        now = time.monotonic()
        with self.lock:
            quotas = [quota for quota in self.quotas if quota.pattern.match(path)]
            early = [quota for quota in quotas if now < quota.limited_until]
            if early:
                self.violation(f"{where}: sent before the announced rate-limit reset")
                reset = max(quota.limited_until for quota in early) - now
                return Reply(
                    429, self.error(429, "Too many requests"), self.limit_headers(reset)
                )
            for quota in quotas:
                while quota.sent and quota.sent[0] <= now - quota.window:
                    quota.sent.popleft()
            full = [quota for quota in quotas if len(quota.sent) >= quota.count]
            if not full:
                for quota in quotas:
                    quota.sent.append(now)
                return None
            reset = max(quota.sent[0] + quota.window - now for quota in full)
            for quota in full:
                # A client's clock may run a little ahead of ours.
                quota.limited_until = now + reset * 0.9
                quota.refused += 1
            return Reply(
                429, self.error(429, "Too many requests"), self.limit_headers(reset)
            )

    def check_shape(self, request, allowed, required=()):
        """A violation (and an error reply) when the JSON body is not an
        object with these keys."""
        body = request["body"]
        where = f"{request['method']} {request['path']}"
        if not isinstance(body, dict):
            self.violation(f"{where}: the body is not an object")
            return Reply(400, self.error(400, "Invalid body"))
        unknown = set(body) - set(allowed)
        missing = set(required) - set(body)
        if unknown or missing:
            self.violation(
                f"{where}: unknown keys {sorted(unknown)}, missing {sorted(missing)}"
            )
            return Reply(400, self.error(400, "Invalid body"))
        return None

    def _send(self, http, reply):
        body = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = dict(reply.headers)
        if body:
            kind = self.error_type if reply.status >= 400 else "application/json"
            headers["Content-Type"] = kind
        send_answer(http, reply.status, body, headers)

    def _hostile(self, http):
        mode = self.hostile
        if mode == "html":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            headers, status = {"Content-Type": "text/html"}, 502
        elif mode == "malformed":
            page, headers, status = b'{"lists": [1, 2,', {}, 200
        elif mode == "huge":
            page = b'{"padding": "' + b"a" * HUGE + b'"}'
            headers, status = {}, 200
        elif mode == "gzip":
            page = gzip.compress(b'{"lists": []}')
            headers, status = {"Content-Encoding": "gzip"}, 200
        elif mode == "drip":
            http.send_response(200)
            http.send_header("Content-Type", "application/json")
            http.send_header("Content-Length", "1000")
            http.end_headers()
            for _ in range(1000):
                http.wfile.write(b" ")
                http.wfile.flush()
                time.sleep(0.2)
            return
        else:
            raise ValueError(f"unknown hostile mode {mode!r}")
        send_answer(http, status, page, {"Content-Type": "application/json", **headers})
        return
