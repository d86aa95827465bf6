"""Webhook targets inside the network are refused, whatever spelling or DNS answer hides them."""

from __future__ import annotations

import ipaddress

import pytest

from causality.reactions.egress import (
    MAX_URL_CHARS,
    EgressRefused,
    UnresolvableHost,
    parse_networks,
    refusal_reason,
    resolve_target,
    validate_url,
)

LOOPBACK = ("127.0.0.0/8",)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://hooks.example.com:8443/a/b?c=d",
        "HTTPS://Example.COM",
        "http://[2606:4700::1]/x",
        "https://bücher.example/hook",
    ],
)
def test_valid_urls_pass_unchanged(url: str) -> None:
    assert validate_url(url) == url


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "required"),
        ("ftp://example.com/x", "scheme must be http or https"),
        ("file:///etc/passwd", "scheme must be http or https"),
        ("gopher://127.0.0.1:25/", "scheme must be http or https"),
        ("example.com/hook", "scheme"),
        ("http:///nohost", "host is required"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://token@example.com/", "credentials"),
        ("http://example.com/a b", "whitespace"),
        ("http://example.com/\r\nX-Injected: 1", "whitespace or control"),
        ("http://example.com/" + "a" * MAX_URL_CHARS, f"longer than {MAX_URL_CHARS}"),
        ("http://exa mple.com/", "whitespace"),
    ],
)
def test_bad_urls_are_refused_naming_the_field(url: str, words: str) -> None:
    with pytest.raises(EgressRefused) as info:
        validate_url(url)
    assert info.value.field == "url"
    assert words in info.value.reason
    assert str(info.value).startswith("url: ")
    assert isinstance(info.value, ValueError)  # the gateway maps ValueErrors to 4xx


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("198.18.0.1", "private"),
        ("240.0.0.1", ""),
        ("255.255.255.255", ""),
        # IPv6 spellings of internal IPv4 addresses
        ("::ffff:127.0.0.1", "loopback address (embedded 127.0.0.1)"),
        ("::ffff:10.0.0.1", "private address (embedded 10.0.0.1)"),
        ("::ffff:169.254.169.254", "link-local address (embedded 169.254.169.254)"),
        ("64:ff9b::7f00:1", "loopback address (embedded 127.0.0.1)"),  # NAT64
        ("2002:7f00:1::", "loopback address (embedded 127.0.0.1)"),  # 6to4
        ("2002:a00:1::1", "private address (embedded 10.0.0.1)"),
    ],
)
def test_internal_addresses_are_refused(address: str, kind: str) -> None:
    reason = refusal_reason(ipaddress.ip_address(address))
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "allowed", "refused"),
    [
        ("127.0.0.1", LOOPBACK, False),
        ("127.8.9.10", LOOPBACK, False),
        ("::ffff:127.0.0.1", LOOPBACK, False),  # the embedded address is allowlisted
        ("::1", LOOPBACK, True),  # IPv6 loopback is another network
        ("10.0.0.1", LOOPBACK, True),
        ("10.20.30.40", ("10.20.0.0/16",), False),
        ("10.21.0.1", ("10.20.0.0/16",), True),
        ("169.254.169.254", ("10.0.0.0/8", "127.0.0.0/8"), True),
        ("fd00::5", ("fd00::/8",), False),
    ],
)
def test_the_allowlist_opens_exactly_its_networks(
    address: str, allowed: tuple[str, ...], refused: bool
) -> None:
    reason = refusal_reason(ipaddress.ip_address(address), parse_networks(allowed))
    assert (reason is not None) is refused


def test_a_bad_allowlist_entry_is_named() -> None:
    with pytest.raises(ValueError, match="webhook_allowed_networks: 'not-a-cidr'"):
        parse_networks(["127.0.0.0/8", "not-a-cidr"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1/hook",  # short form
        "http://2130706433/hook",  # 127.0.0.1 as one decimal number
        "http://0x7f.1/hook",  # hexadecimal
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:7f00:1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:5432/",
        "https://10.0.0.1/hook",
    ],
)
async def test_internal_targets_are_refused_after_resolution(url: str) -> None:
    with pytest.raises(EgressRefused) as info:
        await resolve_target(url, ())
    assert info.value.reason.startswith("refused target ")
    assert not isinstance(info.value, UnresolvableHost)


async def test_octal_ip_spellings_are_refused_too() -> None:
    with pytest.raises(EgressRefused):
        await resolve_target("http://0177.0.0.1/hook", ())


async def test_an_allowlisted_loopback_target_is_pinned_to_its_address() -> None:
    target = await resolve_target("http://localhost:8080/a/b?c=d", LOOPBACK)
    assert target.ip == "127.0.0.1"
    assert target.connect_url == "http://127.0.0.1:8080/a/b?c=d"
    assert target.host_header == "localhost:8080"
    assert target.sni_hostname is None  # plain http


async def test_odd_ip_spellings_connect_to_the_address_they_mean() -> None:
    target = await resolve_target("http://2130706433:9000/x", LOOPBACK)
    assert target.ip == "127.0.0.1"
    assert target.connect_url == "http://127.0.0.1:9000/x"


async def test_https_keeps_the_host_name_for_tls() -> None:
    target = await resolve_target("https://localhost/hook", LOOPBACK)
    assert target.connect_url == "https://127.0.0.1/hook"
    assert target.port == 443
    assert target.host_header == "localhost"
    assert target.sni_hostname == "localhost"
    literal = await resolve_target("https://127.0.0.1:8443/hook", LOOPBACK)
    assert literal.sni_hostname is None  # nothing to verify a name against


async def test_ipv6_literals_are_bracketed_in_the_connect_url() -> None:
    target = await resolve_target("http://[::ffff:127.0.0.1]:81/x", LOOPBACK)
    assert target.ip == "::ffff:7f00:1"
    assert target.connect_url == "http://[::ffff:7f00:1]:81/x"
    assert target.host_header == "[::ffff:127.0.0.1]:81"


async def test_one_internal_address_among_public_ones_refuses_the_host() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(EgressRefused, match=r"hooks\.example\.com -> 10\.0\.0\.7"):
        await resolve_target("https://hooks.example.com/x", (), resolver=resolver)


async def test_the_checked_address_is_the_one_connected_to() -> None:
    """DNS rebinding: the name is resolved once; a second answer cannot change the target."""
    answers = [["93.184.216.34"], ["127.0.0.1"]]
    calls: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[len(calls) - 1]

    target = await resolve_target("https://rebind.example/x", (), resolver=resolver)
    assert calls == ["rebind.example"]
    assert target.connect_url == "https://93.184.216.34/x"
    assert target.sni_hostname == "rebind.example"
    assert target.host_header == "rebind.example"


async def test_an_unresolvable_host_is_reported() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(UnresolvableHost, match=r"cannot resolve host 'nowhere\.invalid'"):
        await resolve_target("http://nowhere.invalid/", (), resolver=resolver)
