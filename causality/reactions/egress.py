"""Outbound request safety: webhook URLs must not reach into the network Causality runs in.

A webhook URL is written by a user, and the dispatcher runs inside the cluster, next to
PostgreSQL, NATS, the Ray dashboard and cloud metadata endpoints. So before every request the
host is resolved, every address it resolves to is checked, and the request then connects to
the checked address itself (never resolving again), so a DNS answer that changes between the
check and the connection (DNS rebinding) cannot redirect it. Private, loopback, link-local,
multicast, reserved and unspecified addresses, and IPv6 forms that embed one (IPv4-mapped,
6to4, Teredo, NAT64), are refused unless an operator's allowlist covers them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence

import httpx
import msgspec

MAX_URL_CHARS = 2048
SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses it resolves to (injectable for tests)
Resolver = Callable[[str, int], Awaitable[list[str]]]

# NAT64 well-known prefix (RFC 6052): the last 32 bits are an IPv4 address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IPv4 ranges Python 3.11 still calls global though no public host lives there
_NOT_PUBLIC_V4 = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT (shared address space)
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
)


class EgressRefused(ValueError):
    """A webhook target that may not be requested; ``field`` names the input at fault."""

    field = "url"

    def __init__(self, reason: str) -> None:
        super().__init__(f"{self.field}: {reason}")
        self.reason = reason


class UnresolvableHost(EgressRefused):
    """The host name has no address (now): a failed attempt, retried like any other."""


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """Where a checked request goes: ``connect_url`` names the checked IP, ``host_header`` and
    ``sni_hostname`` keep the name the URL gave so virtual hosts and TLS verification work."""

    url: str
    scheme: str
    host: str
    port: int
    ip: str
    connect_url: str
    host_header: str

    @property
    def sni_hostname(self) -> str | None:
        """The TLS server name to send and verify (https only, and only for host names)."""
        if self.scheme != "https" or _literal_ip(self.host) is not None:
            return None
        return self.host


def validate_url(url: str) -> str:
    """Check a webhook URL's shape (no network): http(s), a host, no credentials, not too long.

    Returns the URL unchanged so callers can validate and assign in one step.
    """
    _parse(url)
    return url


def _parse(url: str) -> httpx.URL:
    if not isinstance(url, str) or not url.strip():
        raise EgressRefused("a URL is required")
    if len(url) > MAX_URL_CHARS:
        raise EgressRefused(f"longer than {MAX_URL_CHARS} characters")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise EgressRefused("contains whitespace or control characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise EgressRefused(f"not a valid URL ({exc})") from None
    if parsed.scheme not in SCHEMES:
        raise EgressRefused(f"scheme must be http or https, not {parsed.scheme or 'missing'!r}")
    if not parsed.host:
        raise EgressRefused("a host is required")
    if parsed.userinfo:
        raise EgressRefused(
            "credentials in the URL are not allowed (use the webhook's auth settings)"
        )
    return parsed


def parse_networks(networks: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse an allowlist of CIDRs (``127.0.0.0/8``, ``10.1.2.3``, ``fd00::/8``)."""
    parsed: list[IPNetwork] = []
    for text in networks:
        try:
            parsed.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"webhook_allowed_networks: {text!r} is not a CIDR ({exc})") from None
    return tuple(parsed)


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _embedded_v4(address: IPAddress) -> tuple[ipaddress.IPv4Address | None, bool]:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo), if any, and
    whether the IPv6 address is merely another spelling of it (mapped and NAT64 are; 6to4 and
    Teredo are tunnels whose own prefix is judged too)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None, False
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, True
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF), True
    if address.sixtofour is not None:
        return address.sixtofour, False
    if address.teredo is not None:
        return address.teredo[1], False  # (server, client): the client is the one reached
    return None, False


def _plain_reason(address: IPAddress) -> str | None:
    """Why this address (without looking inside IPv6 encapsulations) is not a public host."""
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (
            isinstance(address, ipaddress.IPv4Address)
            and any(address in net for net in _NOT_PUBLIC_V4),
            "non-public",
        ),
        (not address.is_global, "non-public"),
    )
    for flagged, kind in checks:
        if flagged:
            return kind
    return None


def refusal_reason(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why a request to ``address`` must be refused, or None when it may go ahead.

    An address is allowed when it is public, or when an allowlisted network contains it (or
    the IPv4 address it embeds).
    """
    inner, same_host = _embedded_v4(address)
    candidates: list[IPAddress] = [address] if inner is None else [address, inner]
    if any(addr.version == net.version and addr in net for addr in candidates for net in allowed):
        return None
    if inner is not None:
        inner_kind = _plain_reason(inner)
        if inner_kind is not None:
            return f"{address} is {_a(inner_kind)} address (embedded {inner})"
        if same_host:
            return None
    kind = _plain_reason(address)
    return None if kind is None else f"{address} is {_a(kind)} address"


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


async def _getaddrinfo(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve_target(
    url: str, allowed_networks: Sequence[str], *, resolver: Resolver | None = None
) -> Target:
    """Resolve ``url``'s host and check every address; return the address to connect to.

    Raises ``EgressRefused`` (or its ``UnresolvableHost``) with the reason. IP literals go
    through the resolver too, so odd spellings (``2130706433``, ``0x7f.1``) end up as the
    address the operating system would really connect to.
    """
    parsed = _parse(url)
    allowed = parse_networks(allowed_networks)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        resolved = await (resolver or _getaddrinfo)(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve host {host!r} ({exc})") from None
    addresses: list[IPAddress] = []
    for text in resolved:
        address = _literal_ip(text.split("%", 1)[0])  # drop an IPv6 zone id
        if address is None:
            raise UnresolvableHost(f"host {host!r} resolved to a non-address {text!r}")
        addresses.append(address)
    if not addresses:
        raise UnresolvableHost(f"host {host!r} has no address")
    for address in addresses:
        reason = refusal_reason(address, allowed)
        if reason is not None:
            shown = host if _literal_ip(host) == address else f"{host} -> {address}"
            raise EgressRefused(f"refused target {shown}: {reason}")
    chosen = addresses[0]
    return Target(
        url=url,
        scheme=parsed.scheme,
        host=host,
        port=port,
        ip=str(chosen),
        connect_url=str(parsed.copy_with(host=str(chosen))),
        host_header=parsed.netloc.decode("ascii"),
    )
