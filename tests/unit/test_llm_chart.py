"""choose_chart: the model's suggestion kept when its columns exist and the shape fits its
type, otherwise a chart inferred from the result's shape."""

from __future__ import annotations

from typing import Any

from causality.llm.chart import choose_chart
from causality.llm.types import ChartSpec

TS = "timestamp[us, tz=UTC]"


def days(n: int) -> list[str]:
    return [f"2024-03-{d:02d}T00:00:00+00:00" for d in range(1, n + 1)]


def infer(columns: list[str], types: list[str], rows: list[list[Any]]) -> ChartSpec:
    return choose_chart(None, columns, types, rows)


def test_one_numeric_value_is_a_number() -> None:
    assert infer(["revenue"], ["double"], [[12.5]]) == ChartSpec(type="number", y=("revenue",))


def test_time_and_numbers_make_a_line() -> None:
    rows = [[d, i, i * 2] for i, d in enumerate(days(5))]
    chart = infer(["day", "dau", "events"], [TS, "int64", "int64"], rows)
    assert chart == ChartSpec(type="line", x="day", y=("dau", "events"))


def test_one_more_categorical_column_becomes_the_series() -> None:
    rows = [[d, p, 1] for d in days(3) for p in ("ios", "android")]
    chart = infer(["day", "platform", "devices"], [TS, "string", "int64"], rows)
    assert chart == ChartSpec(type="line", x="day", y=("devices",), series="platform")


def test_date_text_counts_as_time_for_trino_and_strftime_results() -> None:
    rows = [["2024-03-01", 3], ["2024-03-02", 4]]
    chart = infer(["day", "n"], ["varchar", "bigint"], rows)
    assert chart.type == "line" and chart.x == "day"


def test_categories_and_numbers_make_a_bar() -> None:
    chart = infer(["platform", "devices"], ["string", "int64"], [["ios", 3], ["web", 5]])
    assert chart == ChartSpec(type="bar", x="platform", y=("devices",))
    rows = [["ios", "1.0", 3], ["ios", "2.0", 4], ["web", "1.0", 1]]
    chart = infer(["platform", "version", "n"], ["string", "string", "int64"], rows)
    assert chart == ChartSpec(type="bar", x="platform", y=("n",), series="version")


def test_step_labels_with_falling_counts_make_a_funnel() -> None:
    rows = [["product_view", 30], ["add_to_cart", 12], ["purchase_complete", 4]]
    chart = infer(["step", "devices"], ["varchar", "bigint"], rows)
    assert chart == ChartSpec(type="funnel", x="step", y=("devices",))
    rows = [["a", 1], ["b", 5]]  # counts grow: not a funnel
    assert infer(["step", "devices"], ["varchar", "bigint"], rows).type == "bar"


def test_everything_else_is_a_table() -> None:
    assert infer([], [], []).type == "table"
    assert infer(["n"], ["int64"], []).type == "table"
    assert infer(["id", "name"], ["string", "string"], [["a", "b"]]).type == "table"
    assert infer(["a", "b"], ["int64", "int64"], [[1, 2]]).type == "table"
    # retention cohorts: several rows per date, no series to tell them apart
    rows = [[d, w, 10 - w] for d in days(2) for w in range(3)]
    assert infer(["cohort", "week_number", "devices"], [TS, "int64", "int64"], rows).type == "table"
    # too many categories for bars
    rows = [[f"model-{i}", i] for i in range(80)]
    assert infer(["model", "n"], ["string", "int64"], rows).type == "table"


def test_a_fitting_suggestion_is_kept_with_the_real_column_names() -> None:
    rows = [[d, i] for i, d in enumerate(days(4))]
    suggested = ChartSpec(type="line", x="Day", y=("DAU",), title="Daily active users")
    chart = choose_chart(suggested, ["day", "dau"], [TS, "int64"], rows)
    assert chart == ChartSpec(type="line", x="day", y=("dau",), title="Daily active users")
    bar = ChartSpec(type="bar", x="day", y=("dau",))
    assert choose_chart(bar, ["day", "dau"], [TS, "int64"], rows) == bar
    table = ChartSpec(type="table", title="Raw")
    assert choose_chart(table, ["day", "dau"], [TS, "int64"], rows) == table


def test_a_suggestion_that_does_not_fit_is_replaced() -> None:
    rows = [[d, i] for i, d in enumerate(days(4))]
    columns, types = ["day", "dau"], [TS, "int64"]
    inferred = ChartSpec(type="line", x="day", y=("dau",), title="T")
    for wrong in (
        ChartSpec(type="line", x="date", y=("dau",), title="T"),  # no such column
        ChartSpec(type="line", x="day", y=("devices",), title="T"),
        ChartSpec(type="number", y=("dau",), title="T"),  # four rows
        ChartSpec(type="bar", x="dau", y=("day",), title="T"),  # y is not numeric
        ChartSpec(type="funnel", x="day", y=("dau",), title="T"),  # counts rise
        ChartSpec(type="line", x="day", y=("dau",), series="dau", title="T"),
    ):
        assert choose_chart(wrong, columns, types, rows) == inferred, wrong
    # a line needs an ordered x
    rows = [["ios", 3], ["web", 4]]
    chart = choose_chart(
        ChartSpec(type="line", x="platform", y=("n",)), ["platform", "n"], ["string", "int64"], rows
    )
    assert chart == ChartSpec(type="bar", x="platform", y=("n",))


def test_a_number_suggestion_fills_in_its_value_column() -> None:
    chart = choose_chart(
        ChartSpec(type="number", x="ignored"), ["label", "n"], ["string", "int64"], [["all", 7]]
    )
    assert chart == ChartSpec(type="number", y=("n",))


def test_trino_types_work_too() -> None:
    rows = [["2024-03-01 00:00:00.000 UTC", 3], ["2024-03-02 00:00:00.000 UTC", 4]]
    chart = infer(["day", "n"], ["timestamp(3) with time zone", "bigint"], rows)
    assert chart == ChartSpec(type="line", x="day", y=("n",))
