"""Webhook request headers: auth as configured, a signature receivers can check, no override."""

from __future__ import annotations

import base64

import pytest

from causality.reactions.model import Webhook
from causality.reactions.signing import (
    USER_AGENT,
    MissingCredentials,
    SignatureInvalid,
    request_headers,
    sign,
    verify,
)

SECRET = "whsec_test"
BODY = b'{"a":1}'
TS = 1_700_000_000
# computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
VECTOR = "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"


def hook(**changes: object) -> Webhook:
    values: dict[str, object] = {"id": "w1", "name": "hook", "url": "https://example.com/h"}
    values.update(changes)
    return Webhook(**values)  # type: ignore[arg-type]


def test_signature_matches_an_independent_hmac() -> None:
    assert sign(SECRET, TS, BODY) == VECTOR


def test_a_fresh_signature_verifies_and_returns_its_timestamp() -> None:
    assert verify(SECRET, VECTOR, BODY, now=TS + 10) == TS


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_the_tolerance_boundary_is_inclusive(offset: int) -> None:
    assert verify(SECRET, VECTOR, BODY, tolerance_s=300, now=TS + offset) == TS


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_a_replay_outside_the_tolerance_is_rejected(offset: int) -> None:
    with pytest.raises(SignatureInvalid, match="away from now"):
        verify(SECRET, VECTOR, BODY, tolerance_s=300, now=TS + offset)


def test_a_changed_body_is_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify(SECRET, VECTOR, b'{"a":2}', now=TS)


def test_another_key_is_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify("other", VECTOR, BODY, now=TS)


def test_a_moved_timestamp_is_rejected() -> None:
    """The timestamp is signed: refreshing it to pass the replay check breaks the signature."""
    moved = VECTOR.replace(f"t={TS}", f"t={TS + 1000}")
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify(SECRET, moved, BODY, now=TS + 1000)


def test_any_matching_v1_is_accepted_during_key_rotation() -> None:
    old = sign("old-key", TS, BODY).split(",")[1]
    header = f"{VECTOR},{old}"
    assert verify("old-key", header, BODY, now=TS) == TS
    assert verify(SECRET, header, BODY, now=TS) == TS


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("", "malformed"),
        ("garbage", "malformed"),
        ("v1=abc", "no t= timestamp"),
        (f"t={TS}", "no v1= signature"),
        ("t=soon,v1=abc", "not an integer"),
    ],
)
def test_malformed_headers_are_rejected(header: str, words: str) -> None:
    with pytest.raises(SignatureInvalid, match=words):
        verify(SECRET, header, BODY, now=TS)


def test_every_request_carries_the_delivery_id_and_timestamp() -> None:
    headers = request_headers(hook(), delivery_id="d-1", timestamp=TS, body=BODY)
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Causality-Delivery": "d-1",
        "X-Causality-Timestamp": str(TS),
    }
    assert USER_AGENT.startswith("causality-webhooks/")


def test_basic_auth() -> None:
    headers = request_headers(
        hook(auth_type="basic", auth_username="crm", auth_secret="p:ss"),
        delivery_id="d",
        timestamp=TS,
        body=BODY,
    )
    scheme, token = headers["Authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(token) == b"crm:p:ss"
    assert "X-Causality-Signature" not in headers


def test_bearer_auth() -> None:
    headers = request_headers(
        hook(auth_type="bearer", auth_secret="tok123"), delivery_id="d", timestamp=TS, body=BODY
    )
    assert headers["Authorization"] == "Bearer tok123"


def test_hmac_auth_signs_the_body_with_the_timestamp_header() -> None:
    headers = request_headers(
        hook(auth_type="hmac", auth_secret=SECRET), delivery_id="d", timestamp=TS, body=BODY
    )
    assert headers["X-Causality-Signature"] == VECTOR
    assert headers["X-Causality-Timestamp"] == str(TS)
    assert "Authorization" not in headers


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"auth_type": "bearer"}, "auth_secret"),
        ({"auth_type": "hmac", "auth_secret": ""}, "auth_secret"),
        ({"auth_type": "basic", "auth_secret": "pw"}, "auth_username"),
    ],
)
def test_missing_credentials_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(MissingCredentials, match=f"^{field}: "):
        request_headers(hook(**changes), delivery_id="d", timestamp=TS, body=BODY)


def test_custom_headers_are_sent_but_cannot_override_ours() -> None:
    custom = {
        "X-Team": "growth",
        "content-type": "text/plain",
        "AUTHORIZATION": "Bearer stolen",
        "X-Causality-Delivery": "forged",
        "x-causality-signature": "forged",
        "X-Causality-Anything": "forged",
        "Host": "internal.local",
        "User-Agent": "curl",
        "Transfer-Encoding": "chunked",
    }
    headers = request_headers(
        hook(auth_type="bearer", auth_secret="tok", headers=custom),
        delivery_id="d-9",
        timestamp=TS,
        body=BODY,
    )
    lowered = {name.lower(): value for name, value in headers.items()}
    assert len(lowered) == len(headers)  # no duplicate names in different case
    assert lowered == {
        "x-team": "growth",
        "content-type": "application/json",
        "authorization": "Bearer tok",
        "x-causality-delivery": "d-9",
        "x-causality-timestamp": str(TS),
        "user-agent": USER_AGENT,
    }
