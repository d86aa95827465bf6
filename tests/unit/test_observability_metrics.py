"""Actor stats become Ray counters by their growth, surviving a loop restart."""

from __future__ import annotations

import msgspec

from causality.observability.metrics import (
    DISPATCHER_COUNTERS,
    ENGINE_COUNTERS,
    SINK_COUNTERS,
    ActorMetrics,
    counter_deltas,
)
from causality.reactions.dispatcher import DispatcherStats
from causality.reactions.engine import EngineStats
from causality.warehouse.sink import SinkStats


def test_deltas_count_growth_and_treat_a_drop_as_a_fresh_start() -> None:
    fields = ("a", "b", "c")
    assert counter_deltas({}, {"a": 3, "b": 0, "c": "x"}, fields) == {"a": 3}
    assert counter_deltas({"a": 3, "b": 1}, {"a": 5, "b": 1}, fields) == {"a": 2}
    assert counter_deltas({"a": 5}, {"a": 2}, fields) == {"a": 2}  # restarted with new stats


def test_every_counter_names_a_real_stats_field() -> None:
    for specs, stats in (
        (SINK_COUNTERS, SinkStats()),
        (ENGINE_COUNTERS, EngineStats()),
        (DISPATCHER_COUNTERS, DispatcherStats()),
    ):
        assert set(specs) <= set(msgspec.structs.asdict(stats)), specs
        for spec in specs.values():
            assert spec.metric.startswith("causality_")


def test_sync_adds_only_what_grew() -> None:
    # outside Ray the metrics record nowhere; the bookkeeping is what is checked here
    metrics = ActorMetrics(kind="sink", name="warehouse-sink-0", counters=SINK_COUNTERS)
    stats = SinkStats(rows_written=10, flushes=1)
    assert metrics.sync(msgspec.structs.asdict(stats), running=True) == {
        "rows_written": 10,
        "flushes": 1,
    }
    assert metrics.sync(msgspec.structs.asdict(stats), running=True) == {}
    stats.rows_written, stats.dead_lettered = 25, 1
    assert metrics.sync(msgspec.structs.asdict(stats), running=True) == {
        "rows_written": 15,
        "dead_lettered": 1,
    }
    fresh = SinkStats(rows_written=4, flushes=1)  # the actor restarted its sink
    metrics.reset()
    assert metrics.sync(msgspec.structs.asdict(fresh), running=True) == {
        "rows_written": 4,
        "flushes": 1,
    }
    metrics.observe_flush(0.2)
