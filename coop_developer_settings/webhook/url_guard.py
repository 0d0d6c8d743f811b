"""Refuse webhook URLs that would make the server call itself or its network.

Checked twice: when a URL is saved (its form, and its host if it is an IP
literal) and when connecting (every address the host name resolves to, so a
name that resolves to a private address later - DNS rebinding - is refused).
"""

import contextlib
import ipaddress
import re
import socket
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
# inet_aton also reads the legacy spellings 2130706433, 0x7f.1, 0177.0.0.1.
LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.I)


class UnsafeUrl(ValueError):
    """The URL is refused; ``code`` says why (stable, for messages and tests)."""

    def __init__(self, code, detail=""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


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


def is_public(address, allowed_networks=()):
    """Only globally routable unicast addresses, unless allow-listed."""
    if any(address in network for network in allowed_networks):
        return True
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is not None:
            return is_public(embedded, allowed_networks)
    return address.is_global and not address.is_multicast


def check_address(address, allowed_networks=()):
    if not is_public(address, allowed_networks):
        raise UnsafeUrl("private_address", str(address))


def check_url(url, allow_http=False, allowed_networks=()):
    """Validate a URL to save; returns it stripped. Raises UnsafeUrl."""
    url = (url or "").strip()
    if not url:
        raise UnsafeUrl("empty")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl("too_long", str(len(url)))
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise UnsafeUrl("malformed", "spaces or control characters")
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
    elif not re.match(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", host, re.I) or ".." in host:
        raise UnsafeUrl("bad_host", host)
    elif host.lower() == "localhost" or host.lower().endswith(
        (".localhost", ".local", ".internal")
    ):
        if not allowed_networks:
            raise UnsafeUrl("private_address", host)
    return url


def resolve(host, port, allowed_networks=()):
    """Resolve host and check every address; returns them, all safe.

    A name with one private address among public ones is refused whole:
    the connection could reach any of them.
    """
    address = literal_ip(host)
    if address is not None:
        candidates = [address]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnsafeUrl("unresolvable", host) from exc
        candidates = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for candidate in candidates:
        check_address(candidate, allowed_networks)
    return candidates
