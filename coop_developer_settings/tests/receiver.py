# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Real receivers on 127.0.0.1 for the webhook tests.

Receiver is an HTTP server that answers from a script of (status, headers,
delay) and records each request it got (headers and exact body); every event
it receives must match its JSON Schema (webhook/schemas.py), or it fails the
test on exit. RawReceiver answers raw bytes, for broken and
stalling receivers.
"""

import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler

import jsonschema

if __package__:  # the addon's tests: odoo.addons.coop_developer_settings.tests
    from ..webhook import schemas
    from .fakes.common import LocalHTTPServer, send_answer
else:  # tests/ and benchmarks/ import it as `receiver`, the tests' folder and
    # the repository on the path (the addon's plain packages need no Odoo)
    from fakes.common import LocalHTTPServer, send_answer

    from coop_developer_settings.webhook import schemas


def payload_errors(body):
    """What makes body not a valid event envelope (empty list: valid)."""
    try:
        payload = json.loads(body)
        schema = schemas.envelope_schema(payload["type"])
    except (ValueError, TypeError, KeyError) as error:
        return [f"not an event envelope of a known type: {error!r}"]
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{payload['type']} {list(error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(payload)
    ]


class Receiver(LocalHTTPServer):
    def __init__(self, *script, port=0, events=True, keep_alive=False):
        """events: what it receives are event deliveries, to check against
        their schema (False for tests of the HTTP client with other bytes).
        keep_alive: answer in HTTP/1.1, keeping connections open.

        peak_in_flight: the most requests it was answering at once, by path;
        peak_total: the most at once, all paths together.
        """
        self.script = list(script) or [(200, {}, 0)]
        self.requests = []
        self.invalid = []
        self.peak_in_flight = {}
        self.peak_total = 0
        in_flight = {}
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
            # Its headers and body are two writes: sent at once.
            disable_nagle_algorithm = True

            def do_POST(self):
                with lock:
                    in_flight[self.path] = in_flight.get(self.path, 0) + 1
                    receiver.peak_in_flight[self.path] = max(
                        in_flight[self.path], receiver.peak_in_flight.get(self.path, 0)
                    )
                    receiver.peak_total = max(
                        sum(in_flight.values()), receiver.peak_total
                    )
                try:
                    self.answer()
                finally:
                    with lock:
                        in_flight[self.path] -= 1

            def answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "peer": self.client_address,
                    }
                )
                if events:
                    receiver.invalid += payload_errors(body)
                index = min(len(receiver.requests), len(receiver.script)) - 1
                status, headers, delay = receiver.script[index]
                time.sleep(delay)
                try:
                    send_answer(self, status, b"ok", headers)
                except OSError:
                    return  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        super().__init__(Handler, port)
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def failures(self):
        return "payloads that do not match their schema", self.invalid


class RawReceiver:
    """A TCP receiver on 127.0.0.1 that answers raw bytes, as scripted.

    For what no HTTP server library sends: broken status lines, odd headers,
    NUL bytes, resets; and for receivers that stall: a body sent a byte at a
    time, headers one line every few seconds, silence after accepting (a TLS
    handshake that never completes). Each step is bytes (sent), a number
    (seconds to wait), RESET (close abruptly), HANG (say nothing until the
    client leaves) or READ (read the next request on the connection, kept
    alive). Every connection plays the whole script.
    """

    RESET = "reset"
    HANG = "hang"
    READ = "read"

    def __init__(self, *steps, read_request=True):
        self.steps = steps
        self.read_request = read_request
        self.requests = []  # raw bytes of each request read
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.https_url = f"https://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                conn, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            try:
                if self.read_request:
                    self.requests.append(self._read_request(conn))
                for step in self.steps:
                    if self.stopping.is_set():
                        return
                    if step == self.RESET:
                        # SO_LINGER 0: the close sends a TCP reset.
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        return
                    if step == self.HANG:
                        self._hang(conn)
                        return
                    if step == self.READ:
                        self.requests.append(self._read_request(conn))
                        continue
                    if isinstance(step, bytes):
                        conn.sendall(step)
                    else:
                        self.stopping.wait(step)
            except OSError:
                return  # the client gave up: what the stalling tests expect

    def _hang(self, conn):
        conn.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                if not conn.recv(65536):
                    return  # the client closed the connection
            except TimeoutError:
                continue

    def _read_request(self, conn):
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _sep, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _colon, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        conn.settimeout(None)
        return head + b"\r\n\r\n" + body
