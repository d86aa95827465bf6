"""The detectors' parameters and math: validation, buckets, windows, cooldown, the baseline."""

from __future__ import annotations

import math
import pickle
import random
from typing import Any

import pytest

from causality.reactions.detectors import (
    BaselineState,
    InvalidDetector,
    baseline_step,
    bucket_of,
    bucket_seconds,
    cooldown_after,
    scan_windows,
    silenced,
    summarize,
    threshold_breach,
    validate_params,
    window_bounds,
    window_totals,
)
from causality.reactions.model import Detector
from causality.reactions.paths import MISSING

T0 = 1_700_000_040  # a minute boundary, epoch seconds


def detector(kind: str, params: dict[str, Any], *, cooldown_s: int = 300) -> Detector:
    return Detector(
        id="00000000-0000-0000-0000-000000000001",
        name="Checkout failures",
        kind=kind,  # type: ignore[arg-type]
        params=validate_params(kind, params),
        cooldown_s=cooldown_s,
    )


def invalid(kind: str, params: Any) -> InvalidDetector:
    with pytest.raises(InvalidDetector) as caught:
        validate_params(kind, params)
    return caught.value


# -- validation ---------------------------------------------------------------------------


def test_baseline_defaults() -> None:
    assert validate_params("baseline", {}) == {
        "bucket_s": 60,
        "k": 3.0,
        "alpha": 0.1,
        "warmup_buckets": 30,
        "min_std": 1.0,
        "direction": "both",
    }


def test_normalized_params_per_kind() -> None:
    assert validate_params("threshold", {"field": "properties.amount", "max": 10}) == {
        "field": "properties.amount",
        "min": None,
        "max": 10,
    }
    assert validate_params("rate", {"max_per_minute": 2.5}) == {"max_per_minute": 2.5}
    assert validate_params("count", {"max_count": 0, "window_s": 86_400}) == {
        "max_count": 0,
        "window_s": 86_400,
    }
    params = {"bucket_s": 3600, "k": 2, "alpha": 0.5, "warmup_buckets": 2, "min_std": 0}
    assert validate_params("baseline", {**params, "direction": "down"}) == {
        **params,
        "k": 2.0,
        "min_std": 0.0,
        "direction": "down",
    }


@pytest.mark.parametrize(
    ("kind", "params", "field", "reason_part"),
    [
        ("count", {"max_count": 5}, "params.window_s", "required"),
        ("count", {"max_count": 5, "window_s": 60, "windows": 1}, "params.windows", "unknown"),
        ("count", {"max_count": True, "window_s": 60}, "params.max_count", "integer"),
        ("count", {"max_count": 5.0, "window_s": 60}, "params.max_count", "integer"),
        ("count", {"max_count": -1, "window_s": 60}, "params.max_count", "between"),
        ("count", {"max_count": 5, "window_s": 0}, "params.window_s", "between"),
        ("count", {"max_count": 5, "window_s": 86_401}, "params.window_s", "between"),
        ("rate", {}, "params.max_per_minute", "required"),
        ("rate", {"max_per_minute": 0}, "params.max_per_minute", "greater than 0"),
        ("rate", {"max_per_minute": "10"}, "params.max_per_minute", "number"),
        ("rate", {"max_per_minute": False}, "params.max_per_minute", "number"),
        ("rate", {"max_per_minute": math.inf}, "params.max_per_minute", "finite"),
        ("threshold", {"max": 1}, "params.field", "required"),
        ("threshold", {"field": "properties.amount"}, "params", "min"),
        ("threshold", {"field": "properties.amount", "min": None, "max": None}, "params", "max"),
        ("threshold", {"field": "properties.x", "min": 5, "max": 4}, "params.min", "exceed"),
        ("threshold", {"field": "properties.x", "max": True}, "params.max", "number"),
        ("threshold", {"field": "user_id", "max": 1}, "params.field", "string field"),
        ("threshold", {"field": "device_context.is_emulator", "max": 1}, "params.field", "bool"),
        ("threshold", {"field": "amount", "max": 1}, "params.field", "unknown field"),
        ("threshold", {"field": "properties.", "max": 1}, "params.field", "empty segment"),
        ("threshold", {"field": 3, "max": 1}, "params.field", "string"),
        ("baseline", {"bucket_s": 0}, "params.bucket_s", "between"),
        ("baseline", {"bucket_s": 3601}, "params.bucket_s", "between"),
        ("baseline", {"k": 0}, "params.k", "greater than 0"),
        ("baseline", {"alpha": 1}, "params.alpha", "between 0 and 1"),
        ("baseline", {"alpha": 0.0}, "params.alpha", "between 0 and 1"),
        ("baseline", {"warmup_buckets": 1}, "params.warmup_buckets", "between"),
        ("baseline", {"min_std": -0.5}, "params.min_std", "negative"),
        ("baseline", {"direction": "sideways"}, "params.direction", "both, up, down"),
        ("baseline", {"k": math.nan}, "params.k", "finite"),
        ("baseline", [], "params", "object"),
        ("spike", {}, "kind", "threshold, rate, count, baseline"),
    ],
)
def test_bad_params_name_the_field(kind: str, params: Any, field: str, reason_part: str) -> None:
    error = invalid(kind, params)
    assert error.field == field
    assert reason_part in error.reason
    assert str(error).startswith(f"{field}: ")


def test_threshold_accepts_numeric_envelope_and_device_fields() -> None:
    for field in ("timestamp_ms", "device_context.screen_width", "properties.cart.items.0.qty"):
        assert validate_params("threshold", {"field": field, "min": 0})["field"] == field


def test_invalid_detector_survives_pickling() -> None:
    error = invalid("count", {"max_count": 1, "window_s": 0})
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.field, copy.reason) == (error.field, error.reason)


# -- buckets ------------------------------------------------------------------------------


def test_bucket_widths_and_starts() -> None:
    count = detector("count", {"max_count": 1, "window_s": 10})
    rate = detector("rate", {"max_per_minute": 1})
    baseline = detector("baseline", {"bucket_s": 300})
    threshold = detector("threshold", {"field": "properties.x", "max": 1})
    assert [bucket_seconds(d) for d in (count, rate, baseline, threshold)] == [1, 60, 300, 0]
    ms = (T0 + 299) * 1000 + 999
    assert bucket_of(count, ms) == T0 + 299
    assert bucket_of(rate, ms) == T0 + 240
    assert T0 % 300 == 240
    assert bucket_of(baseline, ms) == T0 + 60
    assert bucket_of(baseline, (T0 + 60) * 1000) == T0 + 60
    assert bucket_of(baseline, (T0 + 60) * 1000 - 1) == T0 - 240
    assert bucket_of(threshold, ms) == T0 + 299


# -- threshold ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "direction"),
    [
        (10, None),
        (100, None),
        (50.5, None),
        (9, "below"),
        (9.999, "below"),
        (101, "above"),
        (100.0001, "above"),
        (-1, "below"),
    ],
)
def test_threshold_bounds_are_inclusive(value: float, direction: str | None) -> None:
    params = validate_params("threshold", {"field": "properties.amount", "min": 10, "max": 100})
    breach = threshold_breach(params, value)
    if direction is None:
        assert breach is None
    else:
        assert breach is not None
        assert breach["direction"] == direction
        assert breach["observed"] == value
        assert (breach["min"], breach["max"], breach["field"]) == (10, 100, "properties.amount")


def test_threshold_with_one_bound() -> None:
    only_max = validate_params("threshold", {"field": "properties.amount", "max": 0})
    assert threshold_breach(only_max, -(10**9)) is None
    assert threshold_breach(only_max, 1) is not None
    only_min = validate_params("threshold", {"field": "properties.amount", "min": 0})
    assert threshold_breach(only_min, 10**9) is None
    assert threshold_breach(only_min, -0.5) is not None


@pytest.mark.parametrize("value", [True, False, "500", None, MISSING, [500], {"a": 500}, math.nan])
def test_threshold_ignores_non_numbers(value: Any) -> None:
    params = validate_params("threshold", {"field": "properties.amount", "min": 0, "max": 1})
    assert threshold_breach(params, value) is None


def test_threshold_cooldown() -> None:
    cooled = detector("threshold", {"field": "properties.x", "max": 1}, cooldown_s=60)
    until = cooldown_after(cooled, T0, 0.0)
    assert until == T0 + 60
    assert silenced(cooled, T0 + 59, until)
    assert not silenced(cooled, T0 + 60, until)
    eager = detector("threshold", {"field": "properties.x", "max": 1}, cooldown_s=0)
    until = cooldown_after(eager, T0, 0.0)
    assert not silenced(eager, T0, until)  # every breaching event fires
    assert not silenced(eager, T0 - 5, until)


# -- windows ------------------------------------------------------------------------------


def fire_windows(d: Detector, counts: dict[int, int], ends: list[int]) -> list[dict[str, Any]]:
    firings, _ = scan_windows(d, window_totals(d, counts, ends), 0.0)
    return firings


def test_count_fires_above_max_only() -> None:
    d = detector("count", {"max_count": 5, "window_s": 10})
    assert fire_windows(d, {T0: 5}, [T0]) == []
    (firing,) = fire_windows(d, {T0: 6}, [T0])
    assert firing["observed"] == 6
    assert firing["max_count"] == 5
    assert firing["window_s"] == 10
    assert firing["window_start"] == "2023-11-14T22:13:51Z"
    assert firing["window_end"] == "2023-11-14T22:14:01Z"


def test_count_window_is_the_window_s_seconds_ending_at_the_newest_inclusive() -> None:
    d = detector("count", {"max_count": 5, "window_s": 10})
    assert window_bounds(d, T0 + 9) == (T0, T0 + 10)
    # 3 events at T0 and 3 at T0+9: both inside the window ending at T0+9
    assert fire_windows(d, {T0: 3, T0 + 9: 3}, [T0 + 9]) != []
    # one second later T0 has left the window
    assert fire_windows(d, {T0: 3, T0 + 10: 3}, [T0 + 10]) == []


def test_count_zero_max_fires_on_the_first_event() -> None:
    d = detector("count", {"max_count": 0, "window_s": 1})
    assert fire_windows(d, {}, [T0]) == []
    assert len(fire_windows(d, {T0: 1}, [T0])) == 1


def test_rate_in_one_minute_fires_spread_over_two_does_not() -> None:
    d = detector("rate", {"max_per_minute": 10})
    assert fire_windows(d, {T0: 11}, [T0])[0]["observed"] == 11
    assert fire_windows(d, {T0: 10}, [T0]) == []
    # 20 events within 60 s but across the minute boundary: 10 + 10, never above 10
    assert fire_windows(d, {T0: 10, T0 + 60: 10}, [T0, T0 + 60]) == []
    (firing,) = fire_windows(d, {T0: 6, T0 + 60: 11}, [T0, T0 + 60])
    assert (firing["window_start"], firing["window_end"]) == (
        "2023-11-14T22:15:00Z",
        "2023-11-14T22:16:00Z",
    )
    assert firing["max_per_minute"] == 10


def test_rate_fractional_maximum() -> None:
    d = detector("rate", {"max_per_minute": 2.5})
    assert fire_windows(d, {T0: 2}, [T0]) == []
    assert fire_windows(d, {T0: 3}, [T0]) != []


def test_window_cooldown_silences_later_windows_until_it_ends() -> None:
    d = detector("count", {"max_count": 1, "window_s": 1}, cooldown_s=30)
    ends = [T0, T0 + 1, T0 + 29, T0 + 30, T0 + 31]
    firings, until = scan_windows(d, window_totals(d, {e: 2 for e in ends}, ends), 0.0)
    assert [f["window_start"] for f in firings] == ["2023-11-14T22:14:00Z", "2023-11-14T22:14:30Z"]
    assert until == T0 + 60
    # the same window judged again (more events in the same second) does not fire twice
    again, _ = scan_windows(d, [(T0 + 30, 5)], until)
    assert again == []


def test_zero_cooldown_fires_each_window_once() -> None:
    d = detector("rate", {"max_per_minute": 1}, cooldown_s=0)
    firings, until = scan_windows(d, [(T0, 2), (T0 + 60, 2)], 0.0)
    assert len(firings) == 2
    assert scan_windows(d, [(T0 + 60, 3)], until)[0] == []


# -- baseline -----------------------------------------------------------------------------


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's sampler: steady, realistic counting noise (lam is small enough here)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def run(params: dict[str, Any], series: list[int]) -> tuple[list[int], BaselineState, list[dict]]:
    """Indexes of the buckets that fired, the final state and the verdicts."""
    normalized = validate_params("baseline", params)
    state = BaselineState()
    fired, verdicts = [], []
    for index, count in enumerate(series):
        state, verdict = baseline_step(normalized, state, count)
        if verdict is not None:
            fired.append(index)
            verdicts.append(verdict)
    return fired, state, verdicts


def steady(seed: int, n: int = 200, lam: float = 100) -> list[int]:
    rng = random.Random(seed)
    return [poisson(rng, lam) for _ in range(n)]


def test_first_buckets_give_the_exact_mean_and_population_variance() -> None:
    series = [4, 8, 6, 10]
    _, state, _ = run({"warmup_buckets": 10, "alpha": 0.1}, series)
    mean = sum(series) / 4
    assert state.mean == pytest.approx(mean)
    assert state.variance == pytest.approx(sum((x - mean) ** 2 for x in series) / 4)
    assert state.observations == 4


def test_warmup_only_learns() -> None:
    fired, state, _ = run({"warmup_buckets": 30}, [100] * 10 + [0, 10_000] * 10)
    assert fired == []
    assert state.observations == 30
    fired, _, _ = run({"warmup_buckets": 30}, [100] * 30 + [10_000])
    assert fired == [30]


@pytest.mark.parametrize("seed", [7, 8, 10])
def test_steady_poisson_traffic_does_not_fire_and_a_step_up_does(seed: int) -> None:
    fired, _, _ = run({"k": 4.0}, steady(seed))
    assert fired == []
    fired, _, verdicts = run({"k": 4.0}, [*steady(seed), 160, 165, 158])
    assert fired == [200, 201, 202]
    assert verdicts[0]["direction"] == "up"
    assert verdicts[0]["observed"] == 160
    assert 90 < verdicts[0]["expected"] < 110
    assert verdicts[0]["z"] > 4


@pytest.mark.parametrize("seed", [7, 8, 10])
@pytest.mark.parametrize("low", [0, 40])
def test_a_step_down_fires_as_much_as_a_spike(seed: int, low: int) -> None:
    fired, _, verdicts = run({"k": 4.0}, [*steady(seed), low, low])
    assert fired == [200, 201]
    assert verdicts[0]["direction"] == "down"
    assert verdicts[0]["z"] < -4


def test_bounded_noise_never_fires_at_the_default_k() -> None:
    rng = random.Random(1)
    # +-15 around 100: inside 3 * sqrt(mean), whatever the variance estimate does
    series = [100 + rng.randint(-15, 15) for _ in range(2000)]
    fired, _, _ = run({}, series)
    assert fired == []
    fired, _, _ = run({}, [*series, 250])
    assert fired == [2000]


def test_direction_filters_firing() -> None:
    base = [100, 101, 99, 100] * 10
    assert run({"direction": "up", "warmup_buckets": 5}, [*base, 0])[0] == []
    assert run({"direction": "up", "warmup_buckets": 5}, [*base, 200])[0] == [40]
    assert run({"direction": "down", "warmup_buckets": 5}, [*base, 200])[0] == []
    assert run({"direction": "down", "warmup_buckets": 5}, [*base, 0])[0] == [40]


def test_min_std_widens_a_flat_baseline() -> None:
    flat = [0] * 40
    assert run({"min_std": 2.0, "warmup_buckets": 5}, [*flat, 6])[0] == []
    assert run({"min_std": 2.0, "warmup_buckets": 5}, [*flat, 7])[0] == [40]
    # min_std 0 on a perfectly flat series: any change is a departure; z is undefined
    fired, _, verdicts = run({"min_std": 0, "warmup_buckets": 5}, [*flat, 1])
    assert fired == [40]
    assert verdicts[0]["z"] is None


def test_an_anomaly_teaches_little_and_a_lasting_level_is_learned() -> None:
    params = validate_params("baseline", {"warmup_buckets": 5})
    state = BaselineState(mean=100.0, variance=25.0, observations=100)
    after, verdict = baseline_step(params, state, 0)
    assert verdict is not None
    assert after.mean == pytest.approx(99.0)  # a tenth of alpha
    assert after.variance == 25.0
    normal, verdict = baseline_step(params, state, 110)
    assert verdict is None
    assert normal.mean == pytest.approx(101.0)
    # a long outage keeps firing for a good while, then zero becomes normal
    fired, state, _ = run({"warmup_buckets": 5}, [100, 99, 101, 100] * 25 + [0] * 400)
    assert fired[:30] == list(range(100, 130))
    assert fired[-1] < 400
    assert state.mean < 1


def test_summaries() -> None:
    count = detector("count", {"max_count": 100, "window_s": 60})
    details = fire_windows(count, {T0: 143}, [T0])[0]
    assert summarize(count, details) == "Checkout failures: 143 events in 60 s (max 100)"
    rate = detector("rate", {"max_per_minute": 100.0})
    details = fire_windows(rate, {T0: 101}, [T0])[0]
    assert summarize(rate, details) == "Checkout failures: 101 events in one minute (max 100)"
    threshold = detector("threshold", {"field": "properties.amount", "min": 0.5, "max": 1000})
    breach = threshold_breach(threshold.params, 1500)
    assert breach is not None
    assert summarize(threshold, breach) == (
        "Checkout failures: properties.amount = 1500, above max 1000"
    )
    breach = threshold_breach(threshold.params, 0.25)
    assert breach is not None
    assert summarize(threshold, breach).endswith("properties.amount = 0.25, below min 0.5")
    baseline = detector("baseline", {})
    verdict = {"observed": 12, "expected": 100.0, "z": -8.8, "direction": "down", "bucket_s": 60}
    assert summarize(baseline, verdict) == (
        "Checkout failures: 12 events in 60 s, expected about 100.0 (drop, z = -8.8)"
    )


def test_std_is_at_least_poisson_noise() -> None:
    # an EWMA variance that came out far too small does not make ordinary noise anomalous
    params = validate_params("baseline", {"warmup_buckets": 5})
    underestimated = BaselineState(mean=100.0, variance=1.0, observations=100)
    assert baseline_step(params, underestimated, 130)[1] is None  # 3 * sqrt(100) = 30
    _, verdict = baseline_step(params, underestimated, 131)
    assert verdict is not None
    assert verdict["std"] == 10.0
    assert verdict["threshold"] == 30.0
