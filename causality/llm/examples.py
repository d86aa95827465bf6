"""A curated library of question -> SQL examples for this schema, and picking the few that fit.

Models copy patterns far better than they follow prose, so the prompt shows the handful of
examples closest to the question: how a funnel with a conversion window is written here, that
money is ``total_cents`` inside the properties JSON, that "yesterday" is a half-open range on
``timestamp``. The SQL is DuckDB in the portable subset that ``causality.query.transpile``
turns into Trino (``INTERVAL '7' DAY``, ``GROUP BY`` ordinals, no ``* EXCLUDE``), and every
example passes the safety check and ``validate_sql`` (tests/unit/test_llm_examples.py runs
them all on DuckDB and prints them for Trino).

Selection is BM25 over the question and tags with light stemming and a few synonyms; a
question word that is one of an example's tags counts extra. It is deterministic: equal
scores keep library order.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Final, Literal

import msgspec

from causality.llm.types import ChartSpec
from causality.query.safety import check_select
from causality.query.transpile import for_trino


class Example(msgspec.Struct, frozen=True, kw_only=True):
    """A question, the SQL that answers it on this schema, tags for retrieval, a chart."""

    question: str
    sql: str
    tags: tuple[str, ...] = ()
    chart: ChartSpec | None = None


def _x(question: str, tags: str, chart: str, *sql: str) -> Example:
    """``chart`` is ``"type x y[,y2] [series]"`` (``-`` for no x)."""
    kind, *parts = chart.split()
    x = parts[0] if parts and parts[0] != "-" else None
    y = tuple(parts[1].split(",")) if len(parts) > 1 else ()
    spec = ChartSpec(type=kind, x=x, y=y, series=parts[2] if len(parts) > 2 else None)  # type: ignore[arg-type]
    return Example(question=question, sql=" ".join(sql), tags=tuple(tags.split()), chart=spec)


_LAST_7 = "timestamp >= now() - INTERVAL '7' DAY"
_LAST_30 = "timestamp >= now() - INTERVAL '30' DAY"
_PURCHASES = "event_type = 'purchase_complete'"
_CENTS = "CAST(properties->>'$.total_cents' AS BIGINT)"

# fmt: off
LIBRARY: Final[tuple[Example, ...]] = (
    # -- counts
    _x("How many events were recorded in the last 7 days?", "count events week", "number - events",
       f"SELECT count(*) AS events FROM events WHERE {_LAST_7}"),
    _x("How many unique devices were active yesterday?", "count devices active yesterday",
       "number - devices",
       "SELECT count(DISTINCT device_id) AS devices FROM events",
       "WHERE timestamp >= date_trunc('day', now()) - INTERVAL '1' DAY",
       "AND timestamp < date_trunc('day', now())"),
    _x("How many identified users logged in this week?", "count users login week",
       "number - users",
       "SELECT count(DISTINCT user_id) AS users FROM events",
       "WHERE event_type = 'login' AND timestamp >= date_trunc('week', now())"),
    _x("How many signups did we get in the last 30 days by signup method?",
       "count signup method breakdown", "bar method signups",
       "SELECT coalesce(properties->>'$.method', 'unknown') AS method, count(*) AS signups",
       f"FROM events WHERE event_type = 'signup' AND {_LAST_30}",
       "GROUP BY 1 ORDER BY signups DESC"),
    _x("What are the most common event types this week?", "top event_type count breakdown",
       "bar event_type events",
       f"SELECT event_type, count(*) AS events FROM events WHERE {_LAST_7}",
       "GROUP BY 1 ORDER BY events DESC LIMIT 20"),
    # -- active users and trends
    _x("Show daily active users for the last 30 days", "dau daily active users trend day",
       "line day dau",
       "SELECT date_trunc('day', timestamp) AS day, count(DISTINCT device_id) AS dau",
       f"FROM events WHERE {_LAST_30} GROUP BY 1 ORDER BY day"),
    _x("Weekly active users over the last 12 weeks", "wau weekly active users trend week",
       "line week wau",
       "SELECT date_trunc('week', timestamp) AS week, count(DISTINCT device_id) AS wau",
       "FROM events WHERE timestamp >= date_trunc('week', now()) - INTERVAL '77' DAY",
       "GROUP BY 1 ORDER BY week"),
    _x("Monthly active users for the last 6 months", "mau monthly active users trend month",
       "line month mau",
       "SELECT date_trunc('month', timestamp) AS month, count(DISTINCT device_id) AS mau",
       "FROM events WHERE timestamp >= date_trunc('month', now()) - INTERVAL '5' MONTH",
       "GROUP BY 1 ORDER BY month"),
    _x("Daily active devices by platform for the last 14 days",
       "dau daily active platform breakdown trend", "line day devices platform",
       "SELECT date_trunc('day', timestamp) AS day, platform,",
       "count(DISTINCT device_id) AS devices FROM events",
       "WHERE timestamp >= now() - INTERVAL '14' DAY GROUP BY 1, 2 ORDER BY day, platform"),
    _x("Events per hour over the last 24 hours", "events hourly trend hour", "line hour events",
       "SELECT date_trunc('hour', timestamp) AS hour, count(*) AS events FROM events",
       "WHERE timestamp >= now() - INTERVAL '24' HOUR GROUP BY 1 ORDER BY hour"),
    _x("What is our stickiness (average DAU divided by MAU) over the last 30 days?",
       "stickiness dau mau ratio engagement", "number - stickiness",
       "WITH daily AS (SELECT date_trunc('day', timestamp) AS day,",
       f"count(DISTINCT device_id) AS dau FROM events WHERE {_LAST_30} GROUP BY 1)",
       "SELECT round(avg(dau) / (SELECT count(DISTINCT device_id) FROM events",
       f"WHERE {_LAST_30}), 3) AS stickiness FROM daily"),
    _x("Compare active devices this week with the week before", "compare week previous period",
       "table",
       "SELECT count(DISTINCT device_id) FILTER (WHERE timestamp >= now() - INTERVAL '7' DAY)",
       "AS this_week, count(DISTINCT device_id) FILTER (WHERE timestamp < now() - INTERVAL",
       "'7' DAY) AS previous_week FROM events WHERE timestamp >= now() - INTERVAL '14' DAY"),
    _x("How did purchases change day over day in the last 14 days?",
       "purchase change day compare trend", "line day purchases,change",
       "WITH daily AS (SELECT date_trunc('day', timestamp) AS day, count(*) AS purchases",
       f"FROM events WHERE {_PURCHASES} AND timestamp >= now() - INTERVAL '14' DAY GROUP BY 1)",
       "SELECT day, purchases, purchases - lag(purchases) OVER (ORDER BY day) AS change",
       "FROM daily ORDER BY day"),
    _x("Which event types dropped the most yesterday compared with the day before?",
       "drop compare yesterday change event_type", "bar event_type change",
       "WITH counts AS (SELECT event_type, count(*) FILTER (WHERE timestamp >=",
       "date_trunc('day', now()) - INTERVAL '1' DAY) AS yesterday, count(*) FILTER (WHERE",
       "timestamp < date_trunc('day', now()) - INTERVAL '1' DAY) AS day_before FROM events",
       "WHERE timestamp >= date_trunc('day', now()) - INTERVAL '2' DAY",
       "AND timestamp < date_trunc('day', now()) GROUP BY 1)",
       "SELECT event_type, yesterday, day_before, yesterday - day_before AS change",
       "FROM counts ORDER BY change LIMIT 10"),
    # -- breakdowns
    _x("Active devices by platform in the last 30 days", "platform breakdown devices",
       "bar platform devices",
       "SELECT platform, count(DISTINCT device_id) AS devices FROM events",
       f"WHERE {_LAST_30} GROUP BY 1 ORDER BY devices DESC"),
    _x("Which app versions are used most on iOS?", "app_version version ios breakdown",
       "bar app_version devices",
       "SELECT app_version, count(DISTINCT device_id) AS devices FROM events",
       f"WHERE platform = 'ios' AND {_LAST_30} GROUP BY 1 ORDER BY devices DESC LIMIT 20"),
    _x("How many users do we have per country?", "country locale breakdown users",
       "bar country devices",
       "SELECT upper(split_part(locale, '-', 2)) AS country, count(DISTINCT device_id) AS",
       f"devices FROM events WHERE locale IS NOT NULL AND {_LAST_30}",
       "GROUP BY 1 ORDER BY devices DESC LIMIT 25"),
    _x("Top Android device models", "device_model android manufacturer breakdown",
       "bar device_model devices",
       "SELECT device_model, count(DISTINCT device_id) AS devices FROM events",
       f"WHERE platform = 'android' AND {_LAST_30} GROUP BY 1 ORDER BY devices DESC LIMIT 15"),
    _x("Events by network type this week", "network_type network wifi cellular breakdown",
       "bar network_type events",
       "SELECT coalesce(network_type, 'unknown') AS network_type, count(*) AS events",
       f"FROM events WHERE {_LAST_7} GROUP BY 1 ORDER BY events DESC"),
    _x("Active Android devices by OS version", "os_version android version breakdown",
       "bar os_version devices",
       "SELECT os_version, count(DISTINCT device_id) AS devices FROM events",
       f"WHERE platform = 'android' AND {_LAST_30} GROUP BY 1 ORDER BY devices DESC LIMIT 20"),
    # -- funnels
    _x("What is the funnel from product view to add to cart to purchase within a day?",
       "funnel conversion product_view add_to_cart purchase window", "funnel step devices",
       "WITH viewed AS (SELECT device_id, min(timestamp) AS t1 FROM events",
       f"WHERE event_type = 'product_view' AND {_LAST_30} GROUP BY 1),",
       "carted AS (SELECT v.device_id, v.t1, min(e.timestamp) AS t2 FROM viewed v",
       "JOIN events e ON e.device_id = v.device_id AND e.event_type = 'add_to_cart'",
       "AND e.timestamp > v.t1 AND e.timestamp <= v.t1 + INTERVAL '1' DAY GROUP BY 1, 2),",
       "bought AS (SELECT c.device_id FROM carted c JOIN events e ON e.device_id = c.device_id",
       "AND e.event_type = 'purchase_complete' AND e.timestamp > c.t2",
       "AND e.timestamp <= c.t1 + INTERVAL '1' DAY GROUP BY 1)",
       "SELECT step, devices FROM (SELECT 1 AS step_order, 'product_view' AS step,",
       "count(*) AS devices FROM viewed UNION ALL SELECT 2, 'add_to_cart', count(*) FROM carted",
       "UNION ALL SELECT 3, 'purchase_complete', count(*) FROM bought) AS f ORDER BY step_order"),
    _x("What share of checkouts end in a purchase within one hour?",
       "funnel conversion rate checkout purchase window", "number - conversion_pct",
       "WITH started AS (SELECT device_id, min(timestamp) AS t1 FROM events",
       f"WHERE event_type = 'checkout_start' AND {_LAST_30} GROUP BY 1),",
       "converted AS (SELECT s.device_id FROM started s JOIN events e ON e.device_id =",
       f"s.device_id AND e.{_PURCHASES} AND e.timestamp > s.t1",
       "AND e.timestamp <= s.t1 + INTERVAL '1' HOUR GROUP BY 1)",
       "SELECT round(100.0 * (SELECT count(*) FROM converted) / nullif(count(*), 0), 1)",
       "AS conversion_pct FROM started"),
    _x("Signup to first purchase conversion in the last 30 days",
       "funnel conversion signup purchase activation", "funnel step users",
       "WITH signed AS (SELECT device_id, min(timestamp) AS t1 FROM events",
       f"WHERE event_type = 'signup' AND {_LAST_30} GROUP BY 1),",
       "paid AS (SELECT s.device_id FROM signed s JOIN events e ON e.device_id = s.device_id",
       f"AND e.{_PURCHASES} AND e.timestamp > s.t1 GROUP BY 1)",
       "SELECT 'signup' AS step, count(*) AS users FROM signed",
       "UNION ALL SELECT 'purchase_complete', count(*) FROM paid"),
    _x("Where do carts drop off during checkout steps?",
       "funnel checkout_step drop-off step_number", "funnel step_name carts",
       "SELECT CAST(properties->>'$.step_number' AS INTEGER) AS step_number,",
       "properties->>'$.step_name' AS step_name, count(DISTINCT properties->>'$.cart_id')",
       f"AS carts FROM events WHERE event_type = 'checkout_step' AND {_LAST_30}",
       "GROUP BY 1, 2 ORDER BY step_number"),
    # -- retention
    _x("Weekly retention cohorts by the week devices were first seen",
       "retention cohort weekly return", "table",
       "WITH first_seen AS (SELECT device_id, date_trunc('week', min(timestamp)) AS cohort",
       "FROM events WHERE timestamp >= now() - INTERVAL '56' DAY GROUP BY 1),",
       "active AS (SELECT DISTINCT device_id, date_trunc('week', timestamp) AS week FROM events",
       "WHERE timestamp >= now() - INTERVAL '56' DAY)",
       "SELECT f.cohort, date_diff('week', f.cohort, a.week) AS week_number,",
       "count(DISTINCT a.device_id) AS devices FROM first_seen f",
       "JOIN active a ON a.device_id = f.device_id GROUP BY 1, 2 ORDER BY 1, 2"),
    _x("What is day 1 retention for devices first seen last week?",
       "retention day1 return cohort", "number - day1_retention_pct",
       "WITH first_seen AS (SELECT device_id, min(CAST(timestamp AS DATE)) AS first_day",
       "FROM events WHERE timestamp >= now() - INTERVAL '60' DAY GROUP BY 1),",
       "returned AS (SELECT DISTINCT f.device_id FROM first_seen f JOIN events e",
       "ON e.device_id = f.device_id AND CAST(e.timestamp AS DATE) = f.first_day + INTERVAL",
       "'1' DAY WHERE e.timestamp >= now() - INTERVAL '60' DAY)",
       "SELECT round(100.0 * count(r.device_id) / nullif(count(*), 0), 1) AS",
       "day1_retention_pct FROM first_seen f LEFT JOIN returned r ON r.device_id = f.device_id",
       "WHERE f.first_day >= current_date - INTERVAL '14' DAY",
       "AND f.first_day < current_date - INTERVAL '7' DAY"),
    _x("How many devices were active on at least 7 different days this month?",
       "engagement retention active days loyal", "number - devices",
       "SELECT count(*) AS devices FROM (SELECT device_id FROM events",
       f"WHERE {_LAST_30} GROUP BY 1",
       "HAVING count(DISTINCT CAST(timestamp AS DATE)) >= 7) AS loyal"),
    # -- revenue
    _x("What was total revenue in the last 30 days?", "revenue total sales money",
       "number - revenue",
       f"SELECT sum({_CENTS}) / 100.0 AS revenue FROM events",
       f"WHERE {_PURCHASES} AND {_LAST_30}"),
    _x("Revenue by currency this month", "revenue currency breakdown", "bar currency revenue",
       f"SELECT properties->>'$.currency' AS currency, sum({_CENTS}) / 100.0 AS revenue",
       f"FROM events WHERE {_PURCHASES} AND timestamp >= date_trunc('month', now())",
       "GROUP BY 1 ORDER BY revenue DESC"),
    _x("Daily revenue for the last 30 days", "revenue daily trend day sales", "line day revenue",
       f"SELECT date_trunc('day', timestamp) AS day, sum({_CENTS}) / 100.0 AS revenue",
       f"FROM events WHERE {_PURCHASES} AND {_LAST_30} GROUP BY 1 ORDER BY day"),
    _x("Average order value by platform", "revenue average order value aov platform",
       "bar platform avg_order_value",
       f"SELECT platform, round(avg({_CENTS}) / 100.0, 2) AS avg_order_value, count(*) AS",
       f"orders FROM events WHERE {_PURCHASES} AND {_LAST_30} GROUP BY 1",
       "ORDER BY avg_order_value DESC"),
    _x("Revenue by payment method", "revenue payment_method breakdown",
       "bar payment_method revenue",
       "SELECT properties->>'$.payment_method' AS payment_method,",
       f"sum({_CENTS}) / 100.0 AS revenue FROM events WHERE {_PURCHASES} AND {_LAST_30}",
       "GROUP BY 1 ORDER BY revenue DESC"),
    _x("What is the payment failure rate by payment method?",
       "purchase_failed failure rate payment_method", "bar payment_method failure_pct",
       "SELECT properties->>'$.payment_method' AS payment_method, round(100.0 * count(*)",
       "FILTER (WHERE event_type = 'purchase_failed') / count(*), 1) AS failure_pct",
       "FROM events WHERE event_type IN ('purchase_complete', 'purchase_failed')",
       f"AND {_LAST_30} GROUP BY 1 ORDER BY failure_pct DESC"),
    _x("How many paying users did we have and what was revenue per paying user?",
       "revenue paying users arppu", "table",
       f"SELECT count(DISTINCT device_id) AS paying_devices, round(sum({_CENTS}) / 100.0 /",
       "nullif(count(DISTINCT device_id), 0), 2) AS revenue_per_payer FROM events",
       f"WHERE {_PURCHASES} AND {_LAST_30}"),
    _x("Which products are added to cart most often?", "product add_to_cart top products",
       "bar product_name adds",
       "SELECT properties->>'$.product_id' AS product_id, properties->>'$.product_name' AS",
       "product_name, count(*) AS adds FROM events",
       f"WHERE event_type = 'add_to_cart' AND {_LAST_30}",
       "GROUP BY 1, 2 ORDER BY adds DESC LIMIT 10"),
    # -- crashes
    _x("What is the crash rate per 1000 sessions by app version?",
       "crash rate app_version sessions stability", "bar app_version crashes_per_1000_sessions",
       "SELECT app_version, count(*) FILTER (WHERE event_type = 'app_crash') AS crashes,",
       "count(DISTINCT session_id) AS sessions, round(1000.0 * count(*) FILTER (WHERE",
       "event_type = 'app_crash') / nullif(count(DISTINCT session_id), 0), 2) AS",
       f"crashes_per_1000_sessions FROM events WHERE session_id IS NOT NULL AND {_LAST_7}",
       "GROUP BY 1 ORDER BY crashes_per_1000_sessions DESC"),
    _x("Crashes per day by platform for the last 14 days", "crash daily trend platform",
       "line day crashes platform",
       "SELECT date_trunc('day', timestamp) AS day, platform, count(*) AS crashes FROM events",
       "WHERE event_type = 'app_crash' AND timestamp >= now() - INTERVAL '14' DAY",
       "GROUP BY 1, 2 ORDER BY day, platform"),
    _x("What are the most common crash types?", "crash crash_type top", "bar crash_type crashes",
       "SELECT properties->>'$.crash_type' AS crash_type, count(*) AS crashes FROM events",
       f"WHERE event_type = 'app_crash' AND {_LAST_30} GROUP BY 1 ORDER BY crashes DESC LIMIT 10"),
    _x("What percentage of sessions were crash-free yesterday?",
       "crash free sessions stability rate yesterday", "number - crash_free_pct",
       "SELECT round(100.0 * (count(DISTINCT session_id) - count(DISTINCT session_id) FILTER",
       "(WHERE event_type = 'app_crash')) / nullif(count(DISTINCT session_id), 0), 2) AS",
       "crash_free_pct FROM events WHERE session_id IS NOT NULL",
       "AND timestamp >= date_trunc('day', now()) - INTERVAL '1' DAY",
       "AND timestamp < date_trunc('day', now())"),
    _x("On which screens does the app crash most?", "crash screen current_screen",
       "bar screen crashes",
       "SELECT properties->>'$.current_screen' AS screen, count(*) AS crashes FROM events",
       f"WHERE event_type = 'app_crash' AND {_LAST_30} GROUP BY 1 ORDER BY crashes DESC LIMIT 10"),
    # -- sessions
    _x("What is the average session length in minutes this week?",
       "session length duration average", "number - avg_session_minutes",
       "WITH s AS (SELECT session_id, date_diff('second', min(timestamp), max(timestamp)) AS",
       f"seconds FROM events WHERE session_id IS NOT NULL AND {_LAST_7} GROUP BY 1)",
       "SELECT round(avg(seconds) / 60.0, 2) AS avg_session_minutes FROM s"),
    _x("Sessions per day for the last 30 days", "session daily trend count", "line day sessions",
       "SELECT date_trunc('day', timestamp) AS day, count(DISTINCT session_id) AS sessions",
       f"FROM events WHERE session_id IS NOT NULL AND {_LAST_30} GROUP BY 1 ORDER BY day"),
    _x("Median session duration by platform", "session duration median platform length",
       "bar platform median_seconds",
       "WITH s AS (SELECT session_id, platform, date_diff('second', min(timestamp),",
       "max(timestamp)) AS seconds FROM events WHERE session_id IS NOT NULL",
       f"AND {_LAST_7} GROUP BY 1, 2)",
       "SELECT platform, median(seconds) AS median_seconds FROM s GROUP BY 1",
       "ORDER BY median_seconds DESC"),
    _x("How many events does a session have on average?", "session events average depth",
       "number - events_per_session",
       "SELECT round(count(*) * 1.0 / nullif(count(DISTINCT session_id), 0), 2) AS",
       f"events_per_session FROM events WHERE session_id IS NOT NULL AND {_LAST_7}"),
    # -- screens and pages
    _x("Top screens by views in the last 7 days", "screen screen_view top views",
       "bar screen_name views",
       "SELECT properties->>'$.screen_name' AS screen_name, count(*) AS views FROM events",
       f"WHERE event_type = 'screen_view' AND {_LAST_7} GROUP BY 1 ORDER BY views DESC LIMIT 10"),
    _x("Average time spent on each screen in seconds", "screen time duration screen_exit",
       "bar screen_name avg_seconds",
       "SELECT properties->>'$.screen_name' AS screen_name,",
       "round(avg(CAST(properties->>'$.duration_ms' AS BIGINT)) / 1000.0, 1) AS avg_seconds",
       f"FROM events WHERE event_type = 'screen_exit' AND {_LAST_7} GROUP BY 1",
       "ORDER BY avg_seconds DESC LIMIT 20"),
    _x("Most viewed web pages", "web page path views screen_view", "bar path views",
       "SELECT properties->>'$.params.path' AS path, count(*) AS views FROM events",
       f"WHERE event_type = 'screen_view' AND platform = 'web' AND {_LAST_7}",
       "GROUP BY 1 ORDER BY views DESC LIMIT 20"),
    _x("Top traffic sources (utm_source) for web visits", "web utm_source campaign acquisition",
       "bar utm_source sessions",
       "SELECT coalesce(properties->>'$.params.utm_source', '(direct)') AS utm_source,",
       "count(DISTINCT session_id) AS sessions FROM events WHERE event_type = 'screen_view'",
       f"AND platform = 'web' AND {_LAST_30} GROUP BY 1 ORDER BY sessions DESC LIMIT 15"),
    _x("Which screens do users open right after the home screen?",
       "screen next previous_screen path navigation", "bar screen_name views",
       "SELECT properties->>'$.screen_name' AS screen_name, count(*) AS views FROM events",
       "WHERE event_type = 'screen_view' AND properties->>'$.previous_screen' = 'home'",
       f"AND {_LAST_7} GROUP BY 1 ORDER BY views DESC LIMIT 10"),
    # -- custom events
    _x("How many coupon_applied custom events were sent per day?",
       "custom event_name daily trend", "line day events",
       "SELECT date_trunc('day', timestamp) AS day, count(*) AS events FROM events",
       f"WHERE event_type = 'custom' AND event_name = 'coupon_applied' AND {_LAST_30}",
       "GROUP BY 1 ORDER BY day"),
    _x("Which custom events are sent most often?", "custom event_name top",
       "bar event_name events",
       "SELECT event_name, count(*) AS events FROM events",
       f"WHERE event_type = 'custom' AND {_LAST_30} GROUP BY 1 ORDER BY events DESC LIMIT 20"),
    _x("Break down share_clicked custom events by their channel property",
       "custom event_name property breakdown", "bar channel events",
       "SELECT properties->>'$.channel' AS channel, count(*) AS events FROM events",
       f"WHERE event_type = 'custom' AND event_name = 'share_clicked' AND {_LAST_30}",
       "GROUP BY 1 ORDER BY events DESC"),
    # -- property filters and listings
    _x("How many purchases over $100 were made last week?", "purchase filter property amount",
       "number - purchases",
       f"SELECT count(*) AS purchases FROM events WHERE {_PURCHASES} AND {_LAST_7}",
       f"AND {_CENTS} > 10000"),
    _x("How many cold starts took longer than 2 seconds, by platform?",
       "app_start launch cold start performance filter platform", "bar platform slow_starts",
       "SELECT platform, count(*) AS slow_starts FROM events WHERE event_type = 'app_start'",
       "AND json_extract_string(properties, '$.is_cold_start') = 'true'",
       "AND CAST(json_extract_string(properties, '$.launch_duration_ms') AS BIGINT) > 2000",
       f"AND {_LAST_7} GROUP BY 1 ORDER BY slow_starts DESC"),
    _x("Average app launch time by app version", "app_start launch performance app_version",
       "bar app_version avg_launch_ms",
       "SELECT app_version, round(avg(CAST(properties->>'$.launch_duration_ms' AS BIGINT)))",
       "AS avg_launch_ms FROM events WHERE event_type = 'app_start'",
       f"AND {_LAST_7} GROUP BY 1 ORDER BY avg_launch_ms DESC"),
    _x("List the 20 most recent purchases", "list recent purchase orders", "table",
       "SELECT timestamp, device_id, user_id, properties->>'$.order_id' AS order_id,",
       f"{_CENTS} / 100.0 AS total, properties->>'$.currency' AS currency FROM events",
       f"WHERE {_PURCHASES} ORDER BY timestamp DESC LIMIT 20"),
    _x("Show the last 50 events of user u_123", "list user events timeline recent", "table",
       "SELECT timestamp, event_type, event_name, platform, properties FROM events",
       f"WHERE user_id = 'u_123' AND {_LAST_30} ORDER BY timestamp DESC LIMIT 50"),
    _x("What share of permission prompts are granted, by permission type?",
       "permission_result granted rate permission_type", "bar permission_type granted_pct",
       "SELECT properties->>'$.permission_type' AS permission_type, round(100.0 * count(*)",
       "FILTER (WHERE properties->>'$.status' = 'granted') / count(*), 1) AS granted_pct",
       f"FROM events WHERE event_type = 'permission_result' AND {_LAST_30}",
       "GROUP BY 1 ORDER BY granted_pct"),
    _x("How many active devices are jailbroken or emulators?", "jailbroken emulator devices",
       "table",
       "SELECT count(DISTINCT device_id) FILTER (WHERE is_jailbroken) AS jailbroken,",
       "count(DISTINCT device_id) FILTER (WHERE is_emulator) AS emulators,",
       f"count(DISTINCT device_id) AS devices FROM events WHERE {_LAST_30}"),
)
# fmt: on
"""The curated examples, in library order (ties in retrieval keep this order)."""


# -- retrieval -------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_STOP: Final = frozenset(
    "a an and are as at be by did do does for from how i in is it many me much of on or our "
    "per show the their there this to was we were what when which who with you".split()
)
# fmt: off
_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "sale": ("revenue",), "money": ("revenue",), "income": ("revenue",), "earn": ("revenue",),
    "gmv": ("revenue",), "order": ("purchase",), "buy": ("purchase",), "bought": ("purchase",),
    "paid": ("purchase",), "checkout": ("checkout", "funnel"), "conversion": ("funnel",),
    "convert": ("funnel",), "dropoff": ("funnel",), "churn": ("retention",),
    "retain": ("retention",), "come": ("retention",), "cohort": ("retention",),
    "crash": ("crash",), "stability": ("crash",), "daily": ("day",), "weekly": ("week",),
    "monthly": ("month",), "visit": ("session",), "page": ("screen", "web"),
    "country": ("locale", "country"), "os": ("os_version",), "version": ("app_version",),
    "ios": ("platform", "ios"), "android": ("platform", "android"), "device": ("devices",),
    "user": ("users", "devices"), "active": ("dau",), "trend": ("trend", "day"),
    "yesterday": ("yesterday", "day"), "launch": ("app_start",), "startup": ("app_start",),
}
# fmt: on
_K1, _B = 1.2, 0.75
_TAG_BOOST = 1.5


def stem(word: str) -> str:
    """A light suffix stripper: purchase, purchases, purchased, purchasing -> purchas."""
    for suffix in ("ing", "ed", "es", "s", "e"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """Stemmed words of ``text`` without stop words, plus the synonyms they imply."""
    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("_", " ")):
        if word in _STOP:
            continue
        stemmed = stem(word)
        out.append(stemmed)
        for synonym in _stemmed_synonyms().get(stemmed, ()):
            out.extend(stem(w) for w in synonym.replace("_", " ").split())
    return out


@functools.cache
def _stemmed_synonyms() -> dict[str, tuple[str, ...]]:
    return {stem(word): implied for word, implied in _SYNONYMS.items()}


class _Index:
    """BM25 statistics over the library's questions and tags, built once."""

    def __init__(self, library: tuple[Example, ...]) -> None:
        self.docs = [Counter(terms(f"{e.question} {' '.join(e.tags)}")) for e in library]
        self.tags = [set(terms(" ".join(e.tags))) for e in library]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.average = sum(self.lengths) / max(len(self.docs), 1)
        frequency: Counter[str] = Counter()
        for doc in self.docs:
            frequency.update(doc.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}

    def score(self, index: int, query: list[str]) -> float:
        doc, length, total = self.docs[index], self.lengths[index], 0.0
        for term in set(query):
            tf = doc.get(term, 0)
            if not tf:
                continue
            weight = (
                self.idf[term] * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * length / self.average))
            )
            total += weight * (_TAG_BOOST if term in self.tags[index] else 1.0)
        return total


@functools.cache
def _index() -> _Index:
    return _Index(LIBRARY)


def select_examples(question: str, k: int = 4) -> list[Example]:
    """The ``k`` library examples most relevant to ``question`` (best first, deterministic).

    A question that shares no word with the library still gets the first ``k`` examples,
    so the model always sees how answers look.
    """
    if k <= 0:
        return []
    query, index = terms(question), _index()
    scored = sorted(range(len(LIBRARY)), key=lambda i: (-index.score(i, query), i))
    return [LIBRARY[i] for i in scored[:k]]


@functools.cache
def render_sql(sql: str, dialect: Literal["duckdb", "trino"] = "duckdb") -> str:
    """An example's SQL for the engine's dialect: as written, or transpiled for Trino."""
    if dialect == "duckdb":
        return sql
    if dialect != "trino":
        raise ValueError(f"unknown dialect {dialect!r}")
    return for_trino(check_select(sql)).sql(dialect="trino")
