"""One HTTP attempt of a webhook delivery, and what to make of its answer."""

import socket
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from . import url_guard
from .retry import parse_retry_after

RESPONSE_EXCERPT = 2048  # bytes of the answer kept in the delivery log


@dataclass
class Outcome:
    """disposition: done | retry | gone | failed."""

    disposition: str
    status: int | None = None
    duration: float = 0.0
    response: str = ""
    error: str = ""
    retry_after: int | None = None


def classify(status):
    if 200 <= status < 300:
        return "done"
    if status == 410:
        return "gone"
    if status == 429 or status >= 500:
        return "retry"
    return "failed"  # 3xx (redirects are not followed) and other 4xx


def guarded_adapter(allowed_networks):
    """A requests adapter that connects only to checked public addresses.

    The host name is resolved once, every address checked, and the socket
    opened to a checked address; TLS still verifies the host name.
    """

    def new_conn(self):
        addresses = url_guard.resolve(self.host, self.port, allowed_networks)
        last_error = OSError(f"no address for {self.host}")
        for address in addresses:
            try:
                return socket.create_connection((str(address), self.port), self.timeout)
            except OSError as exc:
                last_error = exc
        raise last_error

    http_conn = type(
        "GuardedHTTPConnection", (HTTPConnection,), {"_new_conn": new_conn}
    )
    https_conn = type(
        "GuardedHTTPSConnection", (HTTPSConnection,), {"_new_conn": new_conn}
    )
    pools = {
        "http": type(
            "GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}
        ),
        "https": type(
            "GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
        ),
    }

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            result = super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools
            return result

    return GuardedAdapter(max_retries=0)


def post(
    url, body, headers, connect_timeout=5.0, total_timeout=15.0, allowed_networks=()
):
    """POST body once; never raises for network trouble, returns an Outcome."""
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment
    adapter = guarded_adapter(allowed_networks)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    started = time.monotonic()
    try:
        with session.post(
            url,
            data=body,
            headers=headers,
            timeout=(connect_timeout, total_timeout),
            allow_redirects=False,
            stream=True,
        ) as response:
            excerpt = b""
            for chunk in response.iter_content(1024):
                excerpt += chunk
                if len(excerpt) >= RESPONSE_EXCERPT:
                    break
                if time.monotonic() - started > total_timeout:
                    raise requests.Timeout(
                        f"no complete answer within {total_timeout}s"
                    )
            return Outcome(
                disposition=classify(response.status_code),
                status=response.status_code,
                duration=time.monotonic() - started,
                response=excerpt[:RESPONSE_EXCERPT].decode("utf-8", "replace"),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
    except url_guard.UnsafeUrl as exc:
        error = f"refused address ({exc})"
        disposition = "failed"
    except requests.Timeout as exc:
        error, disposition = f"timeout: {exc}", "retry"
    except requests.RequestException as exc:
        error, disposition = f"connection error: {exc}", "retry"
    finally:
        session.close()
    return Outcome(
        disposition=disposition, duration=time.monotonic() - started, error=error[:500]
    )
