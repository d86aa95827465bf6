"""Body-level errors: a stable code, the field and reason, and survival through pickling."""

from __future__ import annotations

import pickle

import pytest

from causality.events import BatchTooLarge, EventContractError, InvalidRequest, MalformedBody


@pytest.mark.parametrize(
    "error",
    [
        MalformedBody("body", "not valid JSON", code="malformed_json"),
        MalformedBody("events", "the batch holds no events"),
        BatchTooLarge(1001, 1000),
    ],
)
def test_errors_survive_pickling(error: InvalidRequest) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (copy.code, copy.field, copy.reason, str(copy)) == (
        error.code,
        error.field,
        error.reason,
        str(error),
    )


def test_error_attributes() -> None:
    too_large = BatchTooLarge(1001, 1000)
    assert isinstance(too_large, InvalidRequest)
    assert isinstance(too_large, EventContractError)
    assert (too_large.code, too_large.field, too_large.count, too_large.limit) == (
        "batch_too_large",
        "events",
        1001,
        1000,
    )
    assert "1001" in too_large.reason and "1000" in too_large.reason
    assert MalformedBody("body", "x").code == "malformed_body"
    assert MalformedBody("body", "x", code="malformed_json").code == "malformed_json"
    assert not too_large.retryable
