"""The anomaly detectors' parameters and math, without any I/O.

``validate_params`` checks and normalizes what an editor saves; the engine buckets events with
``bucket_of`` and tests threshold values with ``threshold_breach``; ``anomaly_store`` reads the
shared counts and learned state from PostgreSQL and leaves every decision to the functions
here, so each kind's semantics are unit-testable on synthetic data:

- threshold: an event whose numeric value is strictly below ``min`` or above ``max``.
- rate: more than ``max_per_minute`` events in one calendar minute of ``received_at``; judged
  on the running count, so it fires while the minute is still going.
- count: more than ``max_count`` events in the ``window_s`` seconds ending at (and including)
  a counted second.
- baseline: an EWMA mean and variance of the count per bucket; after ``warmup_buckets`` a
  bucket departing from the mean by more than ``k * max(std, min_std)`` fires. Empty buckets
  count as 0, so a drop to zero is seen. ``std`` is never taken below ``sqrt(mean)``: a count
  of independent events is at least Poisson-noisy, and an EWMA variance (about 19 effective
  buckets at alpha 0.1) often underestimates it; without the floor, steady Poisson traffic
  fired on ~1.4% of buckets at k=3 instead of the ~0.3% that k=3 promises.

Learning of anomalous buckets (baseline): such a bucket moves the mean with a tenth of the
usual weight and leaves the variance unchanged. A short outage or burst barely shifts what is
normal (ten anomalous minutes move the mean ~10% of the way at alpha 0.1) and does not widen
the band, while a lasting level change is still learned: the gap to the mean shrinks by a
factor ``1 - alpha/10`` per bucket until the new level is within the band, then is learned at
full speed (about 2 hours of minute buckets for a 10-sigma step at alpha 0.1). Whether a bucket
is an outlier for learning does not depend on ``direction``, which only filters firing.

Time is event time (``received_at``, epoch seconds), never the wall clock, so replays and tests
are deterministic. Cooldown: after firing at time ``t`` a detector stays silent for times
before ``t + max(cooldown_s, bucket)``: a window or bucket fires at most once, and with a
cooldown of 0 a threshold fires for every breaching event.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from causality.reactions.conditions import InvalidCondition
from causality.reactions.model import Detector
from causality.reactions.paths import parse_path

KINDS: Final = ("threshold", "rate", "count", "baseline")
DIRECTIONS: Final = ("both", "up", "down")
MAX_WINDOW_S: Final = 86_400
MAX_BUCKET_S: Final = 3_600
MAX_WARMUP_BUCKETS: Final = 100_000
MAX_COUNT: Final = 10**12
# numeric field types a threshold can read ("any": a properties value, checked per event)
_NUMERIC_FIELD_TYPES: Final = frozenset({"int", "any"})
# the weight of an anomalous bucket in the baseline's mean, relative to a normal one
ANOMALY_LEARNING_FACTOR: Final = 0.1


class InvalidDetector(ValueError):
    """Detector parameters that cannot be accepted; ``field`` says where, ``reason`` why.

    ``field`` is relative to the request body (``params.max_count``) so the admin API can
    answer 422 naming it. Pickles by its constructor arguments to cross Ray processes intact.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.reason))


class BaselineState(msgspec.Struct, frozen=True):
    """What a baseline detector has learned: EWMA mean and variance over ``observations``
    judged buckets (persisted in ``anomaly_state`` between calls and engines)."""

    mean: float = 0.0
    variance: float = 0.0
    observations: int = 0


# -- validation ---------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _number(
    params: Mapping[str, Any], key: str, default: Any = ..., *, nullable: bool = False
) -> Any:
    """A finite int or float (never a bool); ``...`` as default means required."""
    if key not in params:
        if default is ...:
            raise InvalidDetector(f"params.{key}", "is required")
        return default
    value = params[key]
    if value is None and nullable:
        return None
    if not _is_number(value):
        raise InvalidDetector(f"params.{key}", f"must be a number, got {_describe(value)}")
    if not math.isfinite(value):
        raise InvalidDetector(f"params.{key}", "must be a finite number")
    return value


def _integer(params: Mapping[str, Any], key: str, low: int, high: int, default: Any = ...) -> int:
    """An int in ``low..high`` (a float such as 60.0 is refused: types are strict)."""
    if key not in params:
        if default is ...:
            raise InvalidDetector(f"params.{key}", "is required")
        return int(default)
    value = params[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidDetector(f"params.{key}", f"must be an integer, got {_describe(value)}")
    if not low <= value <= high:
        raise InvalidDetector(f"params.{key}", f"must be between {low} and {high}, got {value}")
    return value


def _check_keys(params: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in params:
        if not isinstance(key, str):
            raise InvalidDetector("params", "keys must be strings")
        if key not in allowed:
            raise InvalidDetector(
                f"params.{key[:100]}", "unknown parameter; expected one of " + ", ".join(allowed)
            )


def _threshold_params(params: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(params, ("field", "min", "max"))
    if "field" not in params:
        raise InvalidDetector("params.field", "is required, e.g. 'properties.amount'")
    try:
        path = parse_path(params["field"], where="params.field")
    except InvalidCondition as exc:
        raise InvalidDetector(exc.field, exc.reason) from None
    if path.type not in _NUMERIC_FIELD_TYPES:
        raise InvalidDetector(
            "params.field", f"{path.text} is a {path.type} field; a threshold needs a number"
        )
    low = _number(params, "min", None, nullable=True)
    high = _number(params, "max", None, nullable=True)
    if low is None and high is None:
        raise InvalidDetector("params", "set params.min, params.max or both")
    if low is not None and high is not None and low > high:
        raise InvalidDetector("params.min", f"must not exceed params.max ({high}), got {low}")
    return {"field": path.text, "min": low, "max": high}


def _rate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(params, ("max_per_minute",))
    limit = _number(params, "max_per_minute")
    if limit <= 0:
        raise InvalidDetector("params.max_per_minute", f"must be greater than 0, got {limit}")
    return {"max_per_minute": limit}


def _count_params(params: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(params, ("max_count", "window_s"))
    return {
        "max_count": _integer(params, "max_count", 0, MAX_COUNT),
        "window_s": _integer(params, "window_s", 1, MAX_WINDOW_S),
    }


def _baseline_params(params: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("bucket_s", "k", "alpha", "warmup_buckets", "min_std", "direction")
    _check_keys(params, keys)
    k = _number(params, "k", 3.0)
    if k <= 0:
        raise InvalidDetector("params.k", f"must be greater than 0, got {k}")
    alpha = _number(params, "alpha", 0.1)
    if not 0 < alpha < 1:
        raise InvalidDetector("params.alpha", f"must be between 0 and 1 (exclusive), got {alpha}")
    min_std = _number(params, "min_std", 1.0)
    if min_std < 0:
        raise InvalidDetector("params.min_std", f"must not be negative, got {min_std}")
    direction = params.get("direction", "both")
    if direction not in DIRECTIONS:
        raise InvalidDetector(
            "params.direction", "must be one of " + ", ".join(DIRECTIONS) + f", got {direction!r}"
        )
    return {
        "bucket_s": _integer(params, "bucket_s", 1, MAX_BUCKET_S, 60),
        "k": float(k),
        "alpha": float(alpha),
        "warmup_buckets": _integer(params, "warmup_buckets", 2, MAX_WARMUP_BUCKETS, 30),
        "min_std": float(min_std),
        "direction": direction,
    }


_VALIDATORS: Final = {
    "threshold": _threshold_params,
    "rate": _rate_params,
    "count": _count_params,
    "baseline": _baseline_params,
}


def validate_params(kind: str, params: Any) -> dict[str, Any]:
    """Check ``params`` for ``kind`` and return them normalized with defaults, so the engine
    never meets a missing or mistyped parameter. Raises ``InvalidDetector`` naming the field."""
    validator = _VALIDATORS.get(kind) if isinstance(kind, str) else None
    if validator is None:
        raise InvalidDetector("kind", "must be one of " + ", ".join(KINDS))
    if not isinstance(params, dict):
        raise InvalidDetector("params", f"must be an object, got {_describe(params)}")
    return validator(params)


# -- buckets, windows, cooldown -----------------------------------------------------------


def bucket_seconds(detector: Detector) -> int:
    """The width of the counting buckets: 0 for threshold, which counts nothing."""
    if detector.kind == "count":
        return 1
    if detector.kind == "rate":
        return 60
    if detector.kind == "baseline":
        return int(detector.params.get("bucket_s", 60))
    return 0


def bucket_of(detector: Detector, received_at_ms: int) -> int:
    """The start (epoch seconds) of the bucket an event received at ``received_at_ms`` falls in
    (for a threshold detector, the event's second)."""
    second = received_at_ms // 1000
    size = bucket_seconds(detector)
    return second if size <= 1 else second - second % size


def window_span_s(detector: Detector) -> int:
    """Seconds a rate or count window covers, ending with its last bucket."""
    if detector.kind == "count":
        return int(detector.params["window_s"])
    if detector.kind == "rate":
        return 60
    raise ValueError(f"{detector.kind} detectors have no sliding window")


def window_limit(detector: Detector) -> float:
    """The most events a rate or count window may hold without firing."""
    if detector.kind == "count":
        return detector.params["max_count"]
    if detector.kind == "rate":
        return detector.params["max_per_minute"]
    raise ValueError(f"{detector.kind} detectors have no window limit")


def window_bounds(detector: Detector, end_bucket: int) -> tuple[int, int]:
    """``(start, end)`` epoch seconds of the window whose last bucket is ``end_bucket``
    (start inclusive, end exclusive)."""
    end = end_bucket + bucket_seconds(detector)
    return end - window_span_s(detector), end


def window_totals(
    detector: Detector, counts: Mapping[int, int], ends: Iterable[int]
) -> list[tuple[int, int]]:
    """Events in the window ending with each of ``ends``, from per-bucket ``counts``; the
    reference for what ``anomaly_store`` computes in SQL."""
    totals = []
    for end in ends:
        start, stop = window_bounds(detector, end)
        totals.append((end, sum(c for b, c in counts.items() if start <= b < stop)))
    return totals


def silenced(detector: Detector, t: float, cooldown_until: float) -> bool:
    """Whether a firing at time ``t`` falls in the cooldown of an earlier one."""
    if detector.kind == "threshold" and detector.cooldown_s == 0:
        return False
    return t < cooldown_until


def cooldown_after(detector: Detector, t: float, cooldown_until: float) -> float:
    """The new ``cooldown_until`` once the detector fired at time ``t``."""
    return max(cooldown_until, t + max(detector.cooldown_s, bucket_seconds(detector)))


def scan_windows(
    detector: Detector, totals: Iterable[tuple[int, int]], cooldown_until: float
) -> tuple[list[dict[str, Any]], float]:
    """Judge windows ``(end bucket, events)`` in ascending order: the details of each firing
    and the cooldown after them. A window fires when its events exceed the limit."""
    limit = window_limit(detector)
    firings = []
    for end, total in totals:
        if total <= limit or silenced(detector, end, cooldown_until):
            continue
        cooldown_until = cooldown_after(detector, end, cooldown_until)
        start, stop = window_bounds(detector, end)
        details: dict[str, Any] = {
            "kind": detector.kind,
            "observed": total,
            "window_s": stop - start,
            "window_start": iso(start),
            "window_end": iso(stop),
        }
        if detector.kind == "rate":
            details["max_per_minute"] = limit
        else:
            details["max_count"] = limit
        firings.append(details)
    return firings, cooldown_until


# -- threshold ----------------------------------------------------------------------------


def threshold_breach(params: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
    """The breach details when ``value`` is a number strictly outside ``[min, max]``; None for
    values within the bounds (a bound itself is fine) and for anything not a number."""
    if not _is_number(value) or value != value:  # bool, MISSING, strings, NaN
        return None
    low, high = params.get("min"), params.get("max")
    if low is not None and value < low:
        direction = "below"
    elif high is not None and value > high:
        direction = "above"
    else:
        return None
    return {
        "kind": "threshold",
        "field": params["field"],
        "observed": value,
        "min": low,
        "max": high,
        "direction": direction,
    }


# -- baseline -----------------------------------------------------------------------------


def baseline_step(
    params: Mapping[str, Any], state: BaselineState, count: float
) -> tuple[BaselineState, dict[str, Any] | None]:
    """Judge one closed bucket's ``count`` against ``state``, then learn from it.

    The weight of a bucket is ``max(alpha, 1/(n+1))``: the first buckets give the exact mean
    and population variance, then it becomes a plain EWMA. Warm-up buckets only teach; an
    anomalous bucket teaches little (see the module docstring). Returns the new state and,
    when the bucket fires in the configured direction, the verdict details.
    """
    n = state.observations
    weight = max(params["alpha"], 1.0 / (n + 1))
    diff = count - state.mean
    verdict = None
    outlier = False
    if n >= params["warmup_buckets"]:
        std = max(math.sqrt(max(state.variance, 0.0)), math.sqrt(max(state.mean, 0.0)))
        scale = max(std, params["min_std"])
        outlier = abs(diff) > params["k"] * scale
        direction = "up" if diff > 0 else "down"
        if outlier and params["direction"] in ("both", direction):
            verdict = {
                "observed": count,
                "expected": round(state.mean, 3),
                "std": round(std, 3),
                "threshold": round(params["k"] * scale, 3),
                "z": round(diff / scale, 3) if scale > 0 else None,
                "direction": direction,
                "k": params["k"],
            }
    if outlier:
        mean = state.mean + weight * ANOMALY_LEARNING_FACTOR * diff
        variance = state.variance
    else:
        mean = state.mean + weight * diff
        variance = (1.0 - weight) * (state.variance + weight * diff * diff)
    return BaselineState(mean, variance, n + 1), verdict


# -- alert text ---------------------------------------------------------------------------


def iso(epoch_s: float) -> str:
    """UTC ISO-8601 time with a ``Z``, as alert details show times."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def summarize(detector: Detector, details: Mapping[str, Any]) -> str:
    """The one-line alert text (``AlertDraft.summary``), e.g. "Checkout failures: 143 events
    in 60 s (max 100)"; chat webhooks show only this."""
    name = detector.name
    observed = _num(details.get("observed"))
    if detector.kind == "threshold":
        if details.get("direction") == "below":
            bound = f"below min {_num(details.get('min'))}"
        else:
            bound = f"above max {_num(details.get('max'))}"
        return f"{name}: {details.get('field')} = {observed}, {bound}"
    if detector.kind == "rate":
        limit = _num(details.get("max_per_minute"))
        return f"{name}: {observed} events in one minute (max {limit})"
    if detector.kind == "count":
        limit = _num(details.get("max_count"))
        return f"{name}: {observed} events in {details.get('window_s')} s (max {limit})"
    expected = details.get("expected", 0.0)
    word = "spike" if details.get("direction") == "up" else "drop"
    z = details.get("z")
    deviation = f", z = {z:+.1f}" if isinstance(z, int | float) else ""
    return (
        f"{name}: {observed} events in {details.get('bucket_s')} s, expected about "
        f"{expected:.1f} ({word}{deviation})"
    )
