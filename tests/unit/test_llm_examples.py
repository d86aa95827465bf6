"""The curated question -> SQL library: every example is safe, valid, runs on DuckDB over a
small real warehouse with the answers it should give, prints for Trino, and retrieval picks
the examples that fit a question."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio
import sqlglot

from causality.config import Settings
from causality.events.arrow import events_to_table
from causality.events.catalogue import CATEGORY_OF
from causality.events.model import DeviceContext, Event
from causality.llm.examples import LIBRARY, Example, render_sql, select_examples, stem, terms
from causality.llm.validate import validate_sql
from causality.query.duckdb_engine import DuckDBEngine
from causality.query.safety import check_select
from causality.warehouse.filesystem import open_warehouse
from causality.warehouse.writer import PartitionedWriter

# yesterday at noon UTC: inside "yesterday", "the last 7 days" and "the last 30 days" whatever
# the time of day the test runs at
NOON = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=12)
EARLIER = NOON - timedelta(days=1)

DEVICES = {
    "d1": DeviceContext(platform="ios", app_version="2.0", locale="en-US", os_version="17.4"),
    "d2": DeviceContext(platform="android", app_version="1.0", locale="de-DE", os_version="14"),
    "d3": DeviceContext(platform="web", app_version="web-1", locale="fr-FR"),
}


def event(
    device: str, event_type: str, at: datetime, props: dict[str, Any] | None = None, **kw: Any
) -> Event:
    key = str(uuid.uuid4())
    stamp = int(at.timestamp() * 1000)
    return Event(
        id=key,
        idempotency_key=key,
        app_id="shop",
        device_id=device,
        event_category=CATEGORY_OF[event_type],
        event_type=event_type,
        timestamp_ms=stamp,
        received_at_ms=stamp + 100,
        device_context=DEVICES[device],
        properties=msgspec.Raw(msgspec.json.encode(props or {})),
        **kw,
    )


def shop_events() -> list[Event]:
    m = timedelta(minutes=1)
    s1, s2, s3 = {"session_id": "s1"}, {"session_id": "s2"}, {"session_id": "s3"}
    return [
        # d1, iOS, yesterday: the whole purchase funnel
        event("d1", "app_start", NOON, {"is_cold_start": True, "launch_duration_ms": 2500}, **s1),
        event("d1", "screen_view", NOON + m, {"screen_name": "home"}, **s1),
        event(
            "d1", "screen_exit", NOON + 2 * m, {"screen_name": "home", "duration_ms": 3000}, **s1
        ),
        event("d1", "product_view", NOON + 3 * m, {"product_id": "p1", "price_cents": 999}, **s1),
        event("d1", "add_to_cart", NOON + 4 * m, {"product_id": "p1", "product_name": "Mug"}, **s1),
        event("d1", "checkout_start", NOON + 5 * m, {"cart_id": "c1"}, **s1),
        event("d1", "checkout_step", NOON + 6 * m, {"cart_id": "c1", "step_number": 1}, **s1),
        event(
            "d1",
            "purchase_complete",
            NOON + 7 * m,
            {"order_id": "o1", "total_cents": 12345, "currency": "USD", "payment_method": "card"},
            user_id="u_123",
            **s1,
        ),
        # d2, Android, yesterday: into the cart, then a crash
        event("d2", "screen_view", NOON + m, {"screen_name": "home"}, **s2),
        event("d2", "product_view", NOON + 2 * m, {"product_id": "p2"}, **s2),
        event("d2", "add_to_cart", NOON + 3 * m, {"product_id": "p2"}, **s2),
        event("d2", "app_crash", NOON + 4 * m, {"crash_type": "NullPointer"}, **s2),
        # d3, web, the day before: a purchase straight from the product page
        event("d3", "screen_view", EARLIER, {"params": {"path": "/pricing", "utm_source": "g"}}),
        event("d3", "product_view", EARLIER + m, {"product_id": "p1"}, **s3),
        event(
            "d3",
            "purchase_complete",
            EARLIER + 2 * m,
            {"order_id": "o2", "total_cents": 5000, "currency": "EUR", "payment_method": "paypal"},
            **s3,
        ),
        # d1, the day before: signup, custom events, a permission prompt
        event("d1", "signup", EARLIER, {"method": "email"}, user_id="u_123"),
        event("d1", "login", EARLIER, {"method": "email"}, user_id="u_123"),
        event(
            "d1", "custom", EARLIER, {"event_name": "coupon_applied"}, event_name="coupon_applied"
        ),
        event(
            "d1",
            "custom",
            EARLIER,
            {"event_name": "share_clicked", "channel": "email"},
            event_name="share_clicked",
        ),
        event("d1", "permission_result", EARLIER, {"permission_type": "push", "status": "granted"}),
    ]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("llm-examples")
    settings = Settings(data_dir=str(data), warehouse_uri=str(Path(data) / "warehouse"))
    fs, root = open_warehouse(settings)
    events = shop_events()
    writer = PartitionedWriter(fs=fs, root=root, partitioning="daily", stream="TEST")
    groups = writer.plan([e.app_id for e in events], [e.timestamp_ms for e in events])
    writer.write(events_to_table(events), seqs=list(range(len(events))), groups=groups)
    return settings


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def engine(warehouse: Settings) -> AsyncIterator[DuckDBEngine]:
    engine = DuckDBEngine(settings=warehouse)
    yield engine
    await engine.close()


def by_question(start: str) -> Example:
    matches = [e for e in LIBRARY if e.question.startswith(start)]
    assert len(matches) == 1, start
    return matches[0]


def ids(example: Example) -> str:
    return example.question[:60]


def test_the_library_is_large_varied_and_complete() -> None:
    assert len(LIBRARY) >= 40
    assert len({e.question for e in LIBRARY}) == len(LIBRARY)
    tags = {t for e in LIBRARY for t in e.tags}
    for needed in ("dau", "funnel", "retention", "revenue", "crash", "session", "custom"):
        assert needed in tags, needed
    assert all(e.tags and e.chart is not None for e in LIBRARY)


@pytest.mark.parametrize("example", LIBRARY, ids=ids)
def test_every_example_is_safe_and_valid(example: Example) -> None:
    check_select(example.sql)
    assert validate_sql(example.sql) == example.sql.strip()


@pytest.mark.parametrize("example", LIBRARY, ids=ids)
def test_every_example_prints_for_trino_and_reads_back(example: Example) -> None:
    trino = render_sql(example.sql, "trino")
    sqlglot.parse_one(trino, read="trino")
    assert "->>" not in trino and "GROUP BY ALL" not in trino.upper()
    validate_sql(trino, dialect="trino")


@pytest.mark.parametrize("example", LIBRARY, ids=ids)
async def test_every_example_runs_on_duckdb(engine: DuckDBEngine, example: Example) -> None:
    result = await engine.query(example.sql, limit=1000, app_ids=frozenset({"shop"}))
    assert result.columns
    chart = example.chart
    assert chart is not None
    named = {c for c in (chart.x, chart.series, *chart.y) if c}
    assert named <= set(result.columns), (named, result.columns)


async def rows(engine: DuckDBEngine, question: str) -> list[list[Any]]:
    return (await engine.query(by_question(question).sql, limit=1000)).rows


async def test_the_examples_compute_the_right_answers(engine: DuckDBEngine) -> None:
    assert await rows(engine, "What was total revenue") == [[173.45]]
    assert await rows(engine, "What is the funnel from product view") == [
        ["product_view", 3],
        ["add_to_cart", 2],
        ["purchase_complete", 1],
    ]
    assert sorted(await rows(engine, "Active devices by platform")) == [
        ["android", 1],
        ["ios", 1],
        ["web", 1],
    ]
    assert await rows(engine, "How many unique devices were active yesterday") == [[2]]
    assert await rows(engine, "What are the most common crash types") == [["NullPointer", 1]]
    assert sorted(await rows(engine, "How many users do we have per country")) == [
        ["DE", 1],
        ["FR", 1],
        ["US", 1],
    ]
    assert sorted(await rows(engine, "Which custom events are sent most often")) == [
        ["coupon_applied", 1],
        ["share_clicked", 1],
    ]
    assert await rows(engine, "How many purchases over $100") == [[1]]
    assert await rows(engine, "How many cold starts took longer") == [["ios", 1]]
    assert await rows(engine, "Signup to first purchase") == [
        ["signup", 1],
        ["purchase_complete", 1],
    ]


def test_retrieval_picks_examples_that_fit() -> None:
    cases = {
        "what is the conversion funnel from product view to purchase?": "funnel",
        "how much money did we make last month": "revenue",
        "show me crashes by app version": "crash",
        "what's the week 1 retention of new users": "retention",
        "daily active users over the last two weeks": "dau",
        "how long are sessions on average": "session",
        "count of the custom event video_played per day": "custom",
    }
    for question, tag in cases.items():
        best = select_examples(question, k=3)
        assert tag in best[0].tags, (question, [e.question for e in best])


def test_retrieval_is_deterministic_and_bounded() -> None:
    question = "purchases by platform yesterday"
    first = select_examples(question, k=4)
    assert first == select_examples(question, k=4) and len(first) == 4
    assert select_examples(question, k=0) == []
    assert select_examples("xyzzy plugh", k=2) == list(LIBRARY[:2])
    assert len(select_examples(question, k=1000)) == len(LIBRARY)


def test_stemming_and_synonyms() -> None:
    assert stem("purchases") == stem("purchased") == stem("purchasing") == stem("purchase")
    assert stem("revenue") in terms("sales") and "crash" in terms("crashes")
    assert "the" not in terms("the crashes")


def test_trino_rendering_uses_trino_functions() -> None:
    example = by_question("What was total revenue")
    trino = render_sql(example.sql, "trino")
    assert "JSON_EXTRACT_SCALAR(properties, '$.total_cents')" in trino and "->>" not in trino
    assert render_sql(example.sql, "duckdb") == example.sql
    with pytest.raises(ValueError, match="dialect"):
        render_sql(example.sql, "postgres")  # type: ignore[arg-type]
