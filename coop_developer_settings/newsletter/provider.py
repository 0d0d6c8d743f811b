"""What the Brevo and Mailchimp clients share: the contact the sync hands
over, the errors they raise, and the guarded HTTP transport they speak
through.

A client is called by one thread at a time; it may spread the requests of
one call over a few connections at once (``connections``), each with its
own requests session. Its provider key is never put in an error's text, a
repr or a log line: errors carry the provider's own message, and whatever
is read from an answer has the key scrubbed from it if the provider echoed
it.
"""

import email.utils
import json
import logging
import queue
import re
import socket
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

import requests

from ..webhook import client as webhook_client
from ..webhook import url_guard
from ..webhook.retry import parse_retry_after

_logger = logging.getLogger(__name__)

SUBSCRIBED = "subscribed"
OPTED_OUT = "opted_out"  # blacklisted in Odoo: never mailed again, never re-subscribed
REMOVED = "removed"  # the buyer is gone (tombstone): off the list
STATES = (SUBSCRIBED, OPTED_OUT, REMOVED)

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
# One address, no spaces or angle brackets, a dot in the domain.
EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
# An address in lower case that the address parser gives back as it is: no
# quotes, comments, routes, groups or spaces (a subset of EMAIL).
# Matched whole (fullmatch: a "$" would let a final newline through).
PLAIN_EMAIL = re.compile(r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@[a-z0-9-]+(?:\.[a-z0-9-]+)+")
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
# Both providers' keys are letters, digits, hyphens (and underscores): anything
# else is refused before it reaches a header, whose error would quote it.
KEY = re.compile(r"^[A-Za-z0-9_-]{8,200}$")
MAX_ANSWER = 1 << 20  # bytes read of an answer; lists and statuses are far smaller
MESSAGE_LENGTH = 300  # characters of a provider's message kept in an error
# Seconds an asynchronous job of the provider (an import, a batch operation)
# is followed at most.
FOLLOW_DEADLINE = 600
MAX_PAGES = 40  # pages of lists read (Brevo: 50 lists a page, Mailchimp 1000)
# Loopback, allowed only with a base-URL override (the tests' fakes).
LOOPBACK = url_guard.parse_networks("127.0.0.0/8, ::1/128")
# A path segment that is an address's MD5 (Mailchimp's member id): not logged.
MEMBER_HASH = re.compile(r"/[0-9a-f]{32}(?=/|$)")


class ProviderError(Exception):
    """The provider refused or failed a request; ``message`` is readable.

    ``code`` is stable (for the models' translated messages and tests):
    provider_error, wrong_key, rate_limited, unreachable, timeout,
    malformed_answer.
    """

    code = "provider_error"

    def __init__(self, provider, message, status=None):
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        self.status = status


class WrongKey(ProviderError):
    code = "wrong_key"


class RateLimited(ProviderError):
    """Still limited after the waits the client allows itself; ``reset`` is
    the provider's delay (seconds) before it accepts requests again."""

    code = "rate_limited"

    def __init__(self, provider, message, reset, status=429):
        super().__init__(provider, message, status)
        self.reset = reset


class Unreachable(ProviderError):
    code = "unreachable"


class TimedOut(Unreachable):
    """No whole answer within the request's deadline: its outcome is
    unknown (the requests the clients make may be repeated safely)."""

    code = "timeout"


class MalformedAnswer(ProviderError):
    code = "malformed_answer"


class InvalidEmail(ValueError):
    """``reason``: none (no valid address) or several (more than one)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def normalise_email(text):
    """The one address a field holds, lower case: ``Zoë <Zoe@Example.org>``
    is ``zoe@example.org``. Raises InvalidEmail (none, several)."""
    # Most addresses are already in their normalised form: checked without
    # the address parser, which takes most of a sync's time per buyer.
    if text and len(text) <= MAX_EMAIL_LENGTH and PLAIN_EMAIL.fullmatch(text):
        return text
    return _parsed_email(text)


def _parsed_email(text):
    addresses = [
        address.strip().lower()
        for _name, address in email.utils.getaddresses([text or ""])
        if address.strip()
    ]
    if len(addresses) > 1:
        raise InvalidEmail("several")
    if (
        not addresses
        or len(addresses[0]) > MAX_EMAIL_LENGTH
        or not EMAIL.match(addresses[0])
    ):
        raise InvalidEmail("none")
    return addresses[0]


@dataclass(frozen=True)
class Contact:
    """One address as the sync hands it over, already normalised.

    ``previous_email``: the buyer's former address, taken off the list
    before this one is sent.
    """

    email: str
    state: str = SUBSCRIBED
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None  # E.164, or None
    shop: str = ""
    first_order: date | None = None
    last_order: date | None = None
    order_count: int = 0
    last_cycle: str = ""
    previous_email: str | None = None

    def __post_init__(self):
        for address in (self.email, self.previous_email):
            if address is not None and normalise_email(address) != address:
                raise ValueError(f"not a normalised address: {address!r}")
        if self.state not in STATES:
            raise ValueError(f"unknown state: {self.state!r}")
        if self.phone is not None and not E164.match(self.phone):
            raise ValueError(f"not an E.164 number: {self.phone!r}")

    @property
    def moved(self):
        return self.previous_email not in (None, self.email)


@dataclass(frozen=True)
class ProviderAccount:
    """The account a key opens: ``id``, the provider's own identity of it
    (a renamed account keeps it); ``name``, what its users read."""

    id: str
    name: str


@dataclass(frozen=True)
class ProviderList:
    """A list (Brevo) or audience (Mailchimp) of the account."""

    id: str
    name: str
    members: int | None = None


@dataclass
class SyncResult:
    """What upsert_contacts sent; ``rejected``: (address, provider's
    reason) of the contacts the provider refused while accepting the rest."""

    subscribed: int = 0
    opted_out: int = 0
    removed: int = 0
    moved: int = 0
    rejected: list = field(default_factory=list)


@dataclass
class Answer:
    status: int
    headers: requests.structures.CaseInsensitiveDict
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8")) if self.body.strip() else None


def is_number_id(value):
    """Whether an id a provider gave is a positive integer (Brevo's ids,
    Mailchimp's template ids): nothing else is kept, to reach a path later."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Transport:
    """Requests to one base URL, each within its own deadline, through the
    webhook client's guarded connections (every resolved address checked
    at connect time, no proxy, no cookie, no redirect, answers bounded)."""

    def __init__(
        self,
        provider,
        base_url,
        *,
        allowed_networks,
        connect_timeout,
        total_timeout,
        getaddrinfo=socket.getaddrinfo,
    ):
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.allowed_networks = allowed_networks
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.getaddrinfo = getaddrinfo
        self._attempt = types.SimpleNamespace(watchdog=None)
        self._session = None

    def close(self):
        if self._session is not None:
            self._session.close()
            self._session = None

    def request(self, method, path, *, params=None, body=None, headers=None, auth=None):
        """One request; returns its Answer whatever the status. Raises
        Unreachable, TimedOut or MalformedAnswer."""
        if self._session is None:
            self._session = webhook_client.guarded_session(
                self.allowed_networks,
                self.connect_timeout,
                self._attempt,
                self.getaddrinfo,
            )
        headers = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        watchdog = self._attempt.watchdog = webhook_client.Watchdog(self.total_timeout)
        whole = False
        timed_out = TimedOut(
            self.provider, f"no whole answer within {self.total_timeout:g} s"
        )
        try:
            with self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers=headers,
                auth=auth,
                timeout=(self.connect_timeout, self.total_timeout),
                allow_redirects=False,
                stream=True,
            ) as response:
                # Never decoded (identity was asked for): a small compressed
                # answer could expand past any bound.
                raw = response.raw.read(MAX_ANSWER + 1, decode_content=False)
                if watchdog.fired:
                    raise timed_out
                encoding = response.headers.get("Content-Encoding", "identity")
                if encoding.strip().lower() != "identity":
                    raise MalformedAnswer(
                        self.provider,
                        f"answer encoded as {encoding[:40]!r}, not asked for",
                        response.status_code,
                    )
                if len(raw) > MAX_ANSWER:
                    raise MalformedAnswer(
                        self.provider,
                        f"answer larger than {MAX_ANSWER} bytes",
                        response.status_code,
                    )
                whole = True
                # Header names in any case (a CaseInsensitiveDict).
                return Answer(response.status_code, response.headers.copy(), raw)
        except ProviderError:
            raise
        except url_guard.UnsafeUrl as exc:
            raise Unreachable(self.provider, f"refused address ({exc.code})") from None
        except url_guard.ResolutionTimeout:
            raise timed_out from None
        except url_guard.ResolutionFailed as exc:
            raise Unreachable(
                self.provider, f"name resolution failed: {exc.reason}"
            ) from None
        except Exception as exc:  # whatever the connection broke
            if watchdog.fired or isinstance(
                exc, webhook_client.DeadlinePassed | requests.Timeout
            ):
                raise timed_out from None
            raise Unreachable(
                self.provider, f"connection failed: {type(exc).__name__}"
            ) from None
        finally:
            watchdog.close()
            self._attempt.watchdog = None
            if not whole or watchdog.fired:
                self.close()


class ProviderClient:
    """The request loop both clients share: authentication, the provider's
    error bodies, and 429 answers waited out (bounded) before resuming.

    ``base_url``: an override of the provider's fixed API address, from the
    server configuration only (the tests' fakes, a self-hosted proxy); only
    then are loopback and ``allowed_networks`` reachable.

    ``connections``: how many requests one call may have under way at once
    (the calls made one address at a time).

    ``poll_interval``, ``max_poll_interval``, ``follow_deadline``: how the
    provider's asynchronous jobs (Brevo's imports, Mailchimp's batch
    operations) are followed to their end (see _follow).
    """

    provider = ""
    default_base_url = ""
    max_connections = 1
    # Waits on 429 when the provider says nothing of its reset (seconds).
    fallback_waits = (1, 2, 4, 8, 16, 30)

    @classmethod
    def key_hint(cls, key):
        """What the tab shows of a key: its last 4 characters."""
        return key[-4:]

    def __init__(
        self,
        key,
        *,
        base_url=None,
        allowed_networks=(),
        connect_timeout=5,
        total_timeout=30,
        max_rate_limit_wait=120,
        connections=1,
        poll_interval=0.5,
        max_poll_interval=30.0,
        follow_deadline=FOLLOW_DEADLINE,
        getaddrinfo=socket.getaddrinfo,
        sleep=time.sleep,
    ):
        if not 1 <= connections <= self.max_connections:
            raise ValueError(
                f"{self.provider} takes 1 to {self.max_connections} connections"
            )
        key = (key or "").strip()
        if not KEY.match(key):
            raise WrongKey(self.provider, "this is not an API key of this provider")
        self._key = key
        if base_url:
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("the base URL override is not an http(s) URL")
            allowed = LOOPBACK + tuple(allowed_networks)
        else:
            base_url = self._fixed_base_url()
            allowed = ()  # the provider's public hosts, nothing else
        self.max_rate_limit_wait = max_rate_limit_wait
        self.connections = connections
        self.poll_interval = poll_interval  # the wait before the first poll
        self.max_poll_interval = max_poll_interval
        self.follow_deadline = follow_deadline
        self.sleep = sleep
        self.calls = 0  # requests sent, 429s included (for the benchmarks)
        self._lock = threading.Lock()
        self._local = threading.local()  # the transport of a worker thread

        def transport():
            return Transport(
                self.provider,
                base_url,
                allowed_networks=allowed,
                connect_timeout=connect_timeout,
                total_timeout=total_timeout,
                getaddrinfo=getaddrinfo,
            )

        self._transports = [transport() for _ in range(connections)]

    def __repr__(self):
        return f"<{type(self).__name__} {self._transports[0].base_url}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        for transport in self._transports:
            transport.close()

    def _each(self, function, items):
        """function(item) for each item, on up to ``connections``
        connections at once; the first error is raised once the requests
        under way ended (those not started are not sent)."""
        if self.connections == 1 or len(items) < 2:
            for item in items:
                function(item)
            return
        spare = queue.SimpleQueue()
        for transport in self._transports:
            spare.put(transport)
        failed = threading.Event()

        def run(item):
            if failed.is_set():
                return
            self._local.transport = spare.get()
            try:
                function(item)
            except Exception:
                failed.set()
                raise
            finally:
                spare.put(self._local.transport)
                self._local.transport = None

        pool = ThreadPoolExecutor(self.connections, f"{self.provider}-sync")
        try:
            for _done in pool.map(run, items):
                pass
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def ensure_fields(self, list_id, labels=None):
        """Create the fields the sync writes that the list (or account)
        lacks, named by labels ({Contact attribute: name}) where the
        provider shows a name; returns those created."""
        raise NotImplementedError

    # Provider specifics.
    def _fixed_base_url(self):
        return self.default_base_url

    def _auth(self):
        """(headers, requests auth) of a request."""
        raise NotImplementedError

    def _error_message(self, data):
        """The readable message of an error body (parsed JSON), or None."""
        raise NotImplementedError

    def _reset_delay(self, headers):
        """Seconds until the rate limit resets, as the provider says, or None."""
        return parse_retry_after(headers.get("Retry-After"))

    # The loop.
    def _scrub(self, text):
        return str(text).replace(self._key, "[key]")[:MESSAGE_LENGTH]

    def _call(self, method, path, *, params=None, body=None, ok=(200,)):
        """The parsed JSON answer of a request (None when empty), after
        waiting out 429s; raises a ProviderError for any other status."""
        headers, auth = self._auth()
        waited = 0.0
        throttled = 0
        transport = getattr(self._local, "transport", None) or self._transports[0]
        while True:
            with self._lock:
                self.calls += 1
            answer = transport.request(
                method, path, params=params, body=body, headers=headers, auth=auth
            )
            if answer.status != 429:
                break
            delay = self._reset_delay(answer.headers)
            if delay is None:
                waits = self.fallback_waits
                delay = waits[min(throttled, len(waits) - 1)]
            delay = max(float(delay), 0.0)
            throttled += 1
            if waited + delay > self.max_rate_limit_wait:
                raise RateLimited(
                    self.provider,
                    f"rate limited; the provider accepts requests again in {delay:g} s",
                    reset=delay,
                )
            _logger.info(
                "%s rate limit reached (%s %s): waiting %g s",
                self.provider,
                method,
                MEMBER_HASH.sub("/…", path)[:80],
                delay,
            )
            self.sleep(delay)
            waited += delay
        # Nothing read from an answer (an error, a name, a status) holds the
        # key, should the provider echo it: the records, emails and logs
        # it ends in never do.
        answer.body = answer.body.replace(self._key.encode(), b"[key]")
        try:
            data = answer.json()
        except (UnicodeDecodeError, ValueError):
            data = _UNREADABLE
        if answer.status in ok:
            if data is _UNREADABLE:
                raise MalformedAnswer(
                    self.provider,
                    f"HTTP {answer.status} with a body that is not JSON",
                    answer.status,
                )
            return data
        message = None
        if isinstance(data, dict):
            message = self._error_message(data)
        if not message:
            kind = answer.headers.get("Content-Type", "no type").split(";")[0]
            message = f"HTTP {answer.status} with an unreadable body ({kind[:60]})"
        error = WrongKey if answer.status == 401 else ProviderError
        raise error(self.provider, self._scrub(message), answer.status)

    def _expect(self, condition, what):
        if not condition:
            raise MalformedAnswer(self.provider, f"unexpected answer: {what}")

    def _names(self, answer, key, field, what):
        """The ``field`` of each item of ``answer[key]``, upper-cased: the
        names a provider lists (Brevo's attributes, Mailchimp's merge
        fields)."""
        self._expect(
            isinstance(answer, dict)
            and isinstance(answer.get(key), list)
            and all(
                isinstance(item, dict) and isinstance(item.get(field), str)
                for item in answer[key]
            ),
            what,
        )
        return {item[field].upper() for item in answer[key]}

    def _lists(self, path, size_param, page_size, total_key, params=None, key="lists"):
        """The items (under key: "lists", "templates") of a collection read
        page by page (offset, and size_param items a page), each an object
        with an id."""
        found = []
        for page in range(MAX_PAGES):
            answer = self._call(
                "GET",
                path,
                params={
                    **(params or {}),
                    size_param: page_size,
                    "offset": page * page_size,
                },
            )
            self._expect(isinstance(answer, dict), f"{key} is not an object")
            batch = answer.get(key) or []
            self._expect(
                isinstance(batch, list)
                and all(isinstance(item, dict) and "id" in item for item in batch),
                f"{key} is not a list of {key} with an id",
            )
            found += batch
            total = answer.get(total_key)
            if len(batch) < page_size or (
                isinstance(total, int) and len(found) >= total
            ):
                break
        return found

    def _follow(self, job_ids, finished, what):
        """Returns once finished(job_id) is true for each of job_ids, the
        provider's asynchronous jobs (they run side by side); finished
        polls one and raises a ProviderError for one that failed.

        Each round of polls waits twice as long as the one before, from
        ``poll_interval`` up to ``max_poll_interval``, so that a job of any
        length costs a few polls, and a short one little waiting; past
        ``follow_deadline`` seconds, a ProviderError names those pending
        (what: the job's name in it)."""
        deadline = time.monotonic() + self.follow_deadline
        pending = list(job_ids)
        wait = self.poll_interval
        while pending:
            if time.monotonic() + wait > deadline:
                raise ProviderError(
                    self.provider,
                    f"the {what} {', '.join(map(str, pending))} did not finish "
                    f"within {self.follow_deadline:g} s",
                )
            self.sleep(wait)
            wait = min(wait * 2, self.max_poll_interval)
            pending = [job_id for job_id in pending if not finished(job_id)]

    def _delete(self, path):
        """DELETE path; what is gone already (404) is no error."""
        try:
            self._call("DELETE", path, ok=(200, 204))
        except ProviderError as exc:
            if exc.status != 404:
                raise


_UNREADABLE = object()
