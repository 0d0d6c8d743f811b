"""One HTTP attempt of a webhook delivery, and what to make of its answer.

An attempt ends by its deadline (the total timeout), whatever the receiver
does: name resolution gets the time that is left, each connection gets at
most that too, and a watchdog shuts the attempt's sockets down when the
deadline passes, which ends any read still waiting (slow headers, a body
sent a byte at a time, a TLS handshake that never completes). Socket
timeouts alone cannot do it: each read gets a fresh one.
"""

import contextlib
import http.client
import socket
import threading
import time
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from . import schemas, url_guard
from .retry import parse_retry_after

RESPONSE_EXCERPT = 2048  # bytes of the answer kept in the delivery log
TIMEOUT = "timeout"  # how the error of an attempt cut short by its deadline starts
ERROR_LENGTH = 500


@dataclass
class Outcome:
    """disposition: done | retry | gone | failed."""

    disposition: str
    status: int | None = None
    duration: float = 0.0
    response: str = ""
    error: str = ""
    retry_after: int | None = None


def internal_error(exc):
    """The outcome of an attempt that broke on our side: the exception's
    class only (its text could carry a secret). Retried."""
    return Outcome("retry", error=f"internal error: {type(exc).__name__}")


class DeadlinePassed(Exception):
    """The attempt's time is up (not an OSError: the HTTP library must not
    wrap it)."""


def classify(status):
    if status < 200:
        # 101 Switching Protocols to a POST (FinalAnswer reads past the
        # other 1xx): no answer to the delivery.
        return "retry"
    if schemas.is_success(status):
        return "done"
    if status == 410:
        return "gone"
    if status == 429 or status >= 500:
        return "retry"
    return "failed"  # 3xx (redirects are not followed) and other 4xx


def storable(text, limit):
    """Text a database column takes: no NUL, no lone surrogate, bounded."""
    text = text.replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")[:limit]


class Watchdog:
    """Shuts the attempt's sockets down when its deadline passes."""

    def __init__(self, timeout):
        self.deadline = time.monotonic() + timeout
        self.fired = False
        self._sockets = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0 or self.fired:
            raise DeadlinePassed()
        return left

    def watch(self, sock):
        """Watch a connected socket, new or reused: through a duplicate of
        its descriptor, because TLS detaches the original and a TLS socket
        cannot be duplicated. Shutting one down ends the connection for
        both."""
        with self._lock:
            if self.fired:
                sock.close()
                raise DeadlinePassed()
            self._sockets.append(socket.fromfd(sock.fileno(), sock.family, sock.type))

    def _fire(self):
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self):
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets = []


class FinalAnswer(http.client.HTTPResponse):
    """An answer read past its interim ones (103 Early Hints, 102...), as
    http.client does for 100 Continue only: the final answer is the
    receiver's answer to the delivery. A receiver that sends interim answers
    without end is cut short by the attempt's deadline."""

    def _read_status(self):
        while True:
            version, status, reason = super()._read_status()
            if not 100 < status < 200 or status == 101:
                return version, status, reason
            http.client.parse_headers(self.fp)  # the interim answer's, ignored


def guarded_adapter(allowed_networks, connect_timeout, attempt, getaddrinfo):
    """A requests adapter that connects only to checked public addresses,
    within the deadline of the attempt under way (attempt.watchdog).

    The host name is resolved once, every address checked, and the socket
    opened to a checked address; TLS still verifies the host name. A
    connection kept alive is reused only for the same host and port: it was
    checked when it was opened.
    """

    def new_conn(self):
        watchdog = attempt.watchdog
        addresses = url_guard.resolve(
            self.host,
            self.port,
            allowed_networks,
            timeout=watchdog.remaining(),
            getaddrinfo=getaddrinfo,
        )
        last_error = OSError(f"no address for {self.host}")
        for address in addresses:
            timeout = min(connect_timeout, watchdog.remaining())
            try:
                sock = socket.create_connection((str(address), self.port), timeout)
            except OSError as exc:
                last_error = exc
                continue
            # As urllib3 does by default: a request's body must not wait for
            # the receiver's delayed acknowledgement of its headers (40 ms
            # on a kept-alive connection).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            watchdog.watch(sock)
            return sock
        raise last_error

    def get_conn(pool_class):
        def _get_conn(self, timeout=None):
            conn = pool_class._get_conn(self, timeout)
            if conn.sock is not None:  # kept alive: this attempt's deadline too
                attempt.watchdog.watch(conn.sock)
            return conn

        return _get_conn

    members = {"_new_conn": new_conn, "response_class": FinalAnswer}
    http_conn = type("GuardedHTTPConnection", (HTTPConnection,), members)
    https_conn = type("GuardedHTTPSConnection", (HTTPSConnection,), members)
    pools = {
        "http": type(
            "GuardedHTTPPool",
            (HTTPConnectionPool,),
            {"ConnectionCls": http_conn, "_get_conn": get_conn(HTTPConnectionPool)},
        ),
        "https": type(
            "GuardedHTTPSPool",
            (HTTPSConnectionPool,),
            {"ConnectionCls": https_conn, "_get_conn": get_conn(HTTPSConnectionPool)},
        ),
    }

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            result = super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools
            return result

    # One thread uses a session: one connection per host, the last 10
    # hosts kept alive (requests' default).
    return GuardedAdapter(max_retries=0, pool_connections=10, pool_maxsize=1)


def guarded_session(allowed_networks, connect_timeout, attempt, getaddrinfo):
    """A requests session whose every connection goes through
    guarded_adapter, for one thread (a session is not thread-safe)."""
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment
    session.headers["Accept-Encoding"] = "identity"  # see _send
    # No cookie kept: the session serves every endpoint on a host,
    # whatever their owner.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = guarded_adapter(allowed_networks, connect_timeout, attempt, getaddrinfo)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _send(session, url, body, headers, connect_timeout, total_timeout):
    """The POST and the first bytes of its answer, as an Outcome.

    An answer read to its end leaves its connection to the next attempt to
    the same host; a longer one closes it (its rest is not read).
    """
    with session.post(
        url,
        data=body,
        headers=headers,
        timeout=(connect_timeout, total_timeout),
        allow_redirects=False,
        stream=True,
    ) as response:
        # Never decoded, whatever the receiver says (identity was asked for):
        # a few hundred bytes of stacked gzip would be decoded in one piece,
        # gigabytes, out of the deadline's reach.
        excerpt = response.raw.read(RESPONSE_EXCERPT, decode_content=False)
        encoding = response.headers.get("Content-Encoding", "identity")
        if encoding.strip().lower() == "identity":
            text = excerpt.decode("utf-8", "replace")
        else:
            text = f"({encoding}-encoded answer, not decoded)"
        return Outcome(
            disposition=classify(response.status_code),
            status=response.status_code,
            response=storable(text, RESPONSE_EXCERPT),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )


class Sender:
    """Sends attempts, from any number of threads, on kept-alive connections.

    Each thread gets its own requests session (a session is not
    thread-safe), whose connections are reused from one attempt to the next
    to the same host. Every attempt has its own deadline, which watches the
    connection it uses, new or reused; a session whose attempt did not end
    with a whole answer is dropped with its connections.
    """

    def __init__(
        self,
        *,
        connect_timeout,
        total_timeout,
        allowed_networks=(),
        getaddrinfo=socket.getaddrinfo,
    ):
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.allowed_networks = allowed_networks
        self.getaddrinfo = getaddrinfo
        self._local = threading.local()
        self._sessions = set()
        self._lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        with self._lock:
            sessions, self._sessions = self._sessions, set()
        for session in sessions:
            session.close()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = guarded_session(
                self.allowed_networks,
                self.connect_timeout,
                self._local,
                self.getaddrinfo,
            )
            self._local.session = session
            with self._lock:
                self._sessions.add(session)
        return session

    def _drop_session(self):
        session = self._local.__dict__.pop("session", None)
        if session is not None:
            with self._lock:
                self._sessions.discard(session)
            session.close()

    def post(self, url, body, headers):
        """POST body once, within the total timeout (plus a few
        milliseconds).

        Never raises: whatever happens (answer, timeout, refused address,
        broken answer) is an Outcome. Only a refused address and the
        statuses that say so are final; everything else is retried.
        """
        total_timeout = self.total_timeout
        timeout_error = f"{TIMEOUT}: no complete answer within {total_timeout:g}s"
        started = time.monotonic()
        session = self._session()
        watchdog = self._local.watchdog = Watchdog(total_timeout)
        whole = False
        try:
            outcome = _send(
                session, url, body, headers, self.connect_timeout, total_timeout
            )
            if watchdog.fired:
                # Cut short by the deadline: the HTTP library may have taken
                # the shut-down socket for the end of the headers or body.
                raise DeadlinePassed()
            # After a 101 the connection speaks another protocol.
            whole = outcome.status >= 200
        except url_guard.UnsafeUrl as exc:
            outcome = Outcome("failed", error=f"refused address ({exc})")
        except url_guard.ResolutionFailed as exc:
            if isinstance(exc, url_guard.ResolutionTimeout):
                outcome = Outcome("retry", error=timeout_error)
            else:
                outcome = Outcome("retry", error=f"name resolution failed: {exc}")
        except Exception as exc:  # whatever the answer broke: an attempt like another
            if watchdog.fired or isinstance(exc, DeadlinePassed | requests.Timeout):
                error = timeout_error
            elif isinstance(exc, requests.RequestException):
                error = f"connection error: {exc}"
            else:
                error = f"unreadable answer: {type(exc).__name__}: {exc}"
            outcome = Outcome("retry", error=error)
        finally:
            watchdog.close()
            self._local.watchdog = None
            if not whole or watchdog.fired:
                self._drop_session()
        outcome.duration = time.monotonic() - started
        outcome.error = storable(outcome.error, ERROR_LENGTH)
        return outcome


def post(
    url,
    body,
    headers,
    *,
    connect_timeout,
    total_timeout,
    allowed_networks=(),
    getaddrinfo=socket.getaddrinfo,
):
    """One attempt on a connection of its own (see Sender.post)."""
    with Sender(
        connect_timeout=connect_timeout,
        total_timeout=total_timeout,
        allowed_networks=allowed_networks,
        getaddrinfo=getaddrinfo,
    ) as sender:
        return sender.post(url, body, headers)
