"""The eval's result comparison (order, tolerance, column permutations, NULLs, types) and
the loading of its question set."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from causality.llm.eval.compare import compare_results, normalize, values_equal
from causality.llm.eval.dataset import QuestionSetError, load_questions, select_questions


def test_identical_results_match() -> None:
    rows = [["ios", 40], ["web", 23]]
    assert compare_results(rows, [list(r) for r in rows], ordered=True).match


def test_row_order_is_ignored_unless_asked_for() -> None:
    gold = [["ios", 40], ["web", 23], ["android", 20]]
    shuffled = [["web", 23], ["android", 20], ["ios", 40]]
    assert compare_results(gold, shuffled, ordered=False).match
    verdict = compare_results(gold, shuffled, ordered=True)
    assert not verdict.match
    assert verdict.reason == "the right rows in the wrong order"


def test_duplicate_rows_count_as_a_multiset() -> None:
    gold = [["a", 1], ["a", 1], ["b", 2]]
    assert not compare_results(gold, [["a", 1], ["b", 2], ["b", 2]], ordered=False).match
    assert compare_results(gold, [["b", 2], ["a", 1], ["a", 1]], ordered=False).match


def test_numbers_match_within_relative_tolerance() -> None:
    assert compare_results([[0.1 + 0.2]], [[0.3]], ordered=False).match
    assert compare_results([[1_000_000.0]], [[1_000_000.5]], ordered=False).match
    assert not compare_results([[1_000_000.0]], [[1_000_002.0]], ordered=False).match
    assert not compare_results([[0.5]], [[0.5001]], ordered=False).match


def test_ints_floats_and_decimals_are_equal_by_value() -> None:
    assert compare_results([[Decimal("465688")]], [[465688]], ordered=False).match
    assert compare_results([[3]], [[3.0]], ordered=False).match
    assert not compare_results([[3]], [["3"]], ordered=False).match


def test_booleans_are_not_numbers() -> None:
    assert not values_equal(normalize(True), normalize(1))
    assert compare_results([[True, 5]], [[True, 5]], ordered=False).match
    assert not compare_results([[True, 5]], [[1, 5]], ordered=False).match


def test_zero_matches_only_values_near_zero() -> None:
    assert compare_results([[0]], [[1e-12]], ordered=False).match
    assert not compare_results([[0]], [[1e-3]], ordered=False).match


def test_column_names_and_order_are_ignored() -> None:
    gold = [["ios", 40, 1.5], ["web", 23, 2.5]]
    permuted = [[2.5, "web", 23], [1.5, "ios", 40]]
    assert compare_results(gold, permuted, ordered=False).match
    assert compare_results(gold, [[40, 1.5, "ios"], [23, 2.5, "web"]], ordered=True).match


def test_permutation_must_keep_rows_together() -> None:
    # every column has the right values, but the pairs are crossed
    gold = [["ios", 40], ["web", 23]]
    crossed = [["ios", 23], ["web", 40]]
    verdict = compare_results(gold, crossed, ordered=False)
    assert not verdict.match
    assert verdict.reason == "the columns hold the right values but the rows differ"


def test_columns_with_equal_values_are_tried_in_every_assignment() -> None:
    # two columns share a value multiset: only one assignment keeps the rows together
    gold = [[1, 2, "a"], [2, 1, "b"]]
    answer = [["a", 2, 1], ["b", 1, 2]]
    assert compare_results(gold, answer, ordered=False).match


def test_extra_answer_columns_are_allowed_missing_ones_are_not() -> None:
    gold = [["ios", 40], ["web", 23]]
    wider = [["ios", 40, 0.63], ["web", 23, 0.37]]
    assert compare_results(gold, wider, ordered=False).match
    narrower = compare_results(gold, [[40], [23]], ordered=False)
    assert not narrower.match
    assert narrower.reason == "1 columns, expected at least 2"


def test_row_count_must_match() -> None:
    verdict = compare_results([[1], [2]], [[1]], ordered=False)
    assert not verdict.match
    assert verdict.reason == "1 rows, expected 2"
    assert compare_results([], [], ordered=False).match


def test_a_column_with_no_counterpart_is_named() -> None:
    verdict = compare_results([["ios", 40]], [["ios", 41]], ordered=False)
    assert not verdict.match
    assert verdict.reason == "no column of the answer holds the values of gold column 2"


def test_nulls_equal_only_nulls() -> None:
    assert compare_results([[None, 3], ["web", 2]], [["web", 2], [None, 3]], ordered=False).match
    assert not compare_results([[None, 3]], [["", 3]], ordered=False).match
    assert not compare_results([[None]], [[0]], ordered=False).match
    # NULLs sort before everything, so mixed columns still line up
    assert compare_results([[None], [1], ["x"]], [["x"], [None], [1]], ordered=False).match


def test_timestamps_dates_and_iso_strings() -> None:
    day = date(2025, 6, 1)
    midnight = "2025-06-01T00:00:00+00:00"  # how the engine hands out a timestamp
    assert compare_results([[day, 5]], [[midnight, 5]], ordered=False).match
    aware = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    assert compare_results([[aware]], [["2025-06-01T04:00:00+02:00"]], ordered=False).match
    assert compare_results([[aware]], [[datetime(2025, 6, 1, 2, 0)]], ordered=False).match
    assert not compare_results([[day]], [["2025-06-01T00:00:01+00:00"]], ordered=False).match
    assert not compare_results([[day]], [["2025-06-02"]], ordered=False).match
    assert compare_results([["2025-13-45"]], [["2025-13-45"]], ordered=False).match  # not a date
    assert not compare_results([["2025-13-45"]], [["2025-13-46"]], ordered=False).match


def test_nested_values_compare_elementwise() -> None:
    assert compare_results([[["a", 1]]], [[("a", 1.0)]], ordered=False).match
    assert compare_results([[{"k": 1, "j": 2}]], [[{"j": 2, "k": 1.0}]], ordered=False).match
    assert not compare_results([[["a", 1]]], [[["a", 2]]], ordered=False).match


def test_nan_equals_nan() -> None:
    assert compare_results([[float("nan")]], [[float("nan")]], ordered=False).match
    assert not compare_results([[float("nan")]], [[0.0]], ordered=False).match


def test_ordered_top_n_with_permuted_columns() -> None:
    gold = [["product", 8291], ["home", 6974], ["category", 3092]]
    assert compare_results(
        gold, [[8291, "product"], [6974, "home"], [3092, "category"]], ordered=True
    ).match
    swapped = [[6974, "home"], [8291, "product"], [3092, "category"]]
    assert not compare_results(gold, swapped, ordered=True).match


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([], 0.5, 0.0), ([5.0], 0.95, 5.0), ([1, 2, 3, 4], 0.5, 2), ([*range(1, 101)], 0.95, 95)],
)
def test_nearest_rank_percentile(values: list[float], q: float, expected: float) -> None:
    from causality.llm.eval.harness import percentile  # the harness imports the pipeline

    assert percentile(values, q) == expected


# -- the question set ----------------------------------------------------------------------------


def test_packaged_question_set_covers_the_topics() -> None:
    questions = load_questions()
    assert len(questions) >= 80
    tags = {t for q in questions for t in q.tags}
    topics = {"counts", "trends", "breakdowns", "funnels", "retention", "revenue", "crashes"}
    assert topics | {"sessions", "custom", "followup"} <= tags
    follow_ups = [q for q in questions if q.follows]
    assert len(follow_ups) >= 10
    assert all("followup" in q.tags for q in follow_ups)
    assert all("now()" not in q.gold_sql.lower() for q in questions)  # the data's "now" only


def test_questions_load_from_json_and_toml(tmp_path: Path) -> None:
    items = [
        {"id": "a", "question": "How many?", "gold_sql": "SELECT 1", "tags": ["counts"]},
        {"id": "b", "question": "By platform?", "gold_sql": "SELECT 2", "follows": "a"},
    ]
    as_json = tmp_path / "q.json"
    as_json.write_text(json.dumps(items))
    as_toml = tmp_path / "q.toml"
    as_toml.write_text(
        '[[question]]\nid = "a"\nquestion = "How many?"\ngold_sql = "SELECT 1"\n'
        'tags = ["counts"]\n\n[[question]]\nid = "b"\nquestion = "By platform?"\n'
        'gold_sql = "SELECT 2"\nfollows = "a"\n'
    )
    assert load_questions(as_json) == load_questions(as_toml)
    loaded = load_questions(as_json)
    assert [q.follows for q in loaded] == [None, "a"]
    assert select_questions(loaded, tags=["counts"]) == loaded[:1]
    assert select_questions(loaded, limit=1) == loaded[:1]
    assert select_questions(loaded, tags=["nothing"]) == []


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"question": "?", "gold_sql": "SELECT 1"}, "missing required field `id`"),
        ({"id": "a", "question": "?", "gold_sql": "SELECT 1", "order": True}, "unknown field"),
        ({"id": "a", "question": "?", "gold_sql": "SELECT 1", "ordered": "yes"}, "$.ordered"),
        ({"id": "A b", "question": "?", "gold_sql": "SELECT 1"}, "id: use lowercase"),
        ({"id": "a", "question": " ", "gold_sql": "SELECT 1"}, "question: empty"),
        ({"id": "a", "question": "?", "gold_sql": ""}, "gold_sql: empty"),
        ({"id": "a", "question": "?", "gold_sql": "SELECT 1", "follows": "z"}, "follows: 'z'"),
    ],
)
def test_invalid_items_are_named(tmp_path: Path, item: dict[str, object], message: str) -> None:
    path = tmp_path / "q.json"
    path.write_text(json.dumps([{"id": "first", "question": "?", "gold_sql": "SELECT 1"}, item]))
    with pytest.raises(QuestionSetError, match=re.escape(message)) as caught:
        load_questions(path)
    assert "question[1]" in str(caught.value)


def test_duplicate_ids_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    item = {"id": "a", "question": "?", "gold_sql": "SELECT 1"}
    path.write_text(json.dumps([item, item]))
    with pytest.raises(QuestionSetError, match=r"question\[1\] \('a'\): id: used twice"):
        load_questions(path)
    path.write_text("{not json")
    with pytest.raises(QuestionSetError, match="not valid json"):
        load_questions(path)
    path.write_text("[]")
    with pytest.raises(QuestionSetError, match="non-empty list"):
        load_questions(path)
