"""Refuse webhook URLs that would make the server call itself or its network.

Checked twice, by the same address check: when a URL is saved (its form,
and its host if it is an IP literal) and when connecting (every address,
A and AAAA, the host name resolves to, so a name that resolves to a private
address later - DNS rebinding - is refused).
"""

import contextlib
import ipaddress
import re
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

import idna

from .schemas import MAX_URL_LENGTH

# inet_aton also reads the legacy spellings 2130706433, 0x7f.1, 0177.0.0.1.
LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.I)
# A host name once IDNA-normalised: ASCII letters, digits, hyphens and dots.
ASCII_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", re.ASCII)
LOCAL_NAMES = (".localhost", ".local", ".internal")

# Never globally reachable, whatever the Python version's is_global says
# (IANA's special-purpose address registries; deprecated ranges included).
NON_PUBLIC_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast, deprecated
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",  # unspecified, loopback and IPv4-compatible (deprecated)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "100:0:0:1::/64",  # dummy prefix
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) among them
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local, deprecated
        "ff00::/8",  # multicast
    )
)
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# IANA's global unicast space (RFC 4291 2.4, RFC 3587): the rest of IPv6 is
# reserved by the IETF or not assigned yet, never a public server.
IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# IPv6 forms that are one IPv4 address spelled in IPv6 (the connection
# reaches that IPv4): only as public as it.
TRANSLATED_PREFIXES = tuple(
    ipaddress.ip_network(network)
    for network in (
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # NAT64 well-known prefix
    )
)


class UnsafeUrl(ValueError):
    """The URL is refused; ``code`` says why (stable, for messages and tests)."""

    def __init__(self, code, detail=""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class ResolutionFailed(Exception):
    """The host name did not resolve (now): a temporary failure.

    Not an OSError, so that the HTTP library does not wrap it.
    """

    def __init__(self, host, reason):
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


class ResolutionTimeout(ResolutionFailed):
    """The resolver did not answer within the attempt's remaining time."""


def parse_networks(text):
    """CIDR ranges from a comma/space separated list (the allow-list)."""
    networks = []
    for item in re.split(r"[\s,]+", text or ""):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise UnsafeUrl("bad_network", item) from exc
    return tuple(networks)


def literal_ip(host):
    """The address a host written as an IP literal means, or None for a name."""
    host = host.strip("[]")
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host)
    if LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError as exc:
            raise UnsafeUrl("bad_host", host) from exc
    return None


def embedded_ipv4(address):
    """The IPv4 addresses an IPv6 address carries, by every transition form
    (mapped, SIIT, NAT64, IPv4-compatible, 6to4, Teredo server and client)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return ()
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    embedded = []
    if any(address in prefix for prefix in TRANSLATED_PREFIXES):
        embedded.append(low32)
    if address in IPV4_COMPATIBLE:
        embedded.append(low32)
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    return tuple(embedded)


def is_public(address, allowed_networks=()):
    """Only globally routable unicast addresses, unless allow-listed."""
    if any(address in network for network in allowed_networks):
        return True
    embedded = embedded_ipv4(address)
    if any(address in prefix for prefix in TRANSLATED_PREFIXES):
        return is_public(embedded[0], allowed_networks)
    if any(address in network for network in NON_PUBLIC_NETWORKS):
        return False
    if address.is_reserved or (
        address.version == 6 and address not in IPV6_GLOBAL_UNICAST
    ):
        return False
    if not address.is_global or address.is_multicast:
        return False
    return all(is_public(ipv4, allowed_networks) for ipv4 in embedded)


def check_address(address, allowed_networks=()):
    if not is_public(address, allowed_networks):
        raise UnsafeUrl("private_address", str(address))


def normalise_host(host):
    """The ASCII form of a host name (IDNA, UTS-46 mapping), lower case.

    "KELVINK.com" (with U+212A KELVIN SIGN) is "kelvink.com" and
    "localhoſt" (U+017F) is "localhost": UTS-46 maps them, then the
    result is checked like any other name. What does not map is refused.
    """
    try:
        ascii_host = idna.encode(host, uts46=True, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise UnsafeUrl("bad_host", host) from exc
    if not ASCII_HOST.match(ascii_host) or ".." in ascii_host:
        raise UnsafeUrl("bad_host", host)
    return ascii_host


def check_url(url, allow_http=False, allowed_networks=()):
    """Validate a URL to save; returns it with its host in ASCII form.

    Raises UnsafeUrl.
    """
    if url is not None and url is not False and not isinstance(url, str):
        raise UnsafeUrl("malformed", "not text")
    url = (url or "").strip()
    if not url:
        raise UnsafeUrl("empty")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl("too_long", str(len(url)))
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise UnsafeUrl("malformed", "spaces or control characters")
    try:
        url.encode("utf-8")
    except UnicodeEncodeError as exc:  # half of a UTF-16 pair (JSON's "\ud800")
        raise UnsafeUrl("malformed", "not text") from exc
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("malformed", str(exc)) from exc
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        raise UnsafeUrl("scheme", parts.scheme or "none")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("credentials")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("malformed", "no host")
    if port == 0:
        raise UnsafeUrl("malformed", "port 0")
    address = literal_ip(host)
    if address is not None:
        check_address(address, allowed_networks)
        return url
    ascii_host = normalise_host(host)
    # UTS-46 maps other digits to ASCII ones ("①②⑦.0.0.1"): the result may
    # be an address, checked as such.
    address = literal_ip(ascii_host)
    if address is not None:
        check_address(address, allowed_networks)
    elif (ascii_host == "localhost" or ascii_host.endswith(LOCAL_NAMES)) and not (
        allowed_networks
    ):
        raise UnsafeUrl("private_address", ascii_host)
    netloc = ascii_host if port is None else f"{ascii_host}:{port}"
    url = urlunsplit(parts._replace(netloc=netloc))
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl("too_long", str(len(url)))
    return url


def _getaddrinfo_within(host, port, timeout, getaddrinfo):
    """getaddrinfo, given up after timeout seconds.

    The system resolver cannot be interrupted: it runs in a thread of its
    own, left to finish alone when the attempt cannot wait any longer.
    """
    answer = {}
    done = threading.Event()

    def resolve_now():
        try:
            answer["infos"] = getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except Exception as exc:  # handed over to the caller
            answer["error"] = exc
        finally:
            done.set()

    threading.Thread(target=resolve_now, name="webhook-dns", daemon=True).start()
    if not done.wait(timeout):
        raise ResolutionTimeout(host, f"no answer within {timeout:.1f}s")
    if "error" in answer:
        raise ResolutionFailed(host, str(answer["error"]) or "no address")
    return answer["infos"]


def resolve(
    host, port, allowed_networks=(), timeout=None, getaddrinfo=socket.getaddrinfo
):
    """Resolve host and check every address; returns them, all safe.

    A name with one private address among public ones is refused whole:
    the connection could reach any of them. Raises UnsafeUrl (final) or
    ResolutionFailed (temporary: the name may resolve later).
    """
    address = literal_ip(host)
    if address is not None:
        candidates = [address]
    else:
        infos = _getaddrinfo_within(host, port, timeout, getaddrinfo)
        candidates = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        if not candidates:
            raise ResolutionFailed(host, "no address")
    for candidate in candidates:
        check_address(candidate, allowed_networks)
    return candidates
