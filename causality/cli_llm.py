"""``causality eval-llm``: how well the configured model answers the demo question set.

It uses the edge Settings (``llm_provider`` openai or vllm, endpoint, model) and a DuckDB
engine over the eval warehouse: ``--data DIR`` reuses a dataset (building it there first when
DIR is empty or missing); without it the dataset is built in a temporary folder and removed.
Progress goes to stderr; the report (a table, or JSON with ``--json``) to stdout, and
``--out FILE`` also writes the JSON report.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
import msgspec

from causality.config import Settings, SettingsError

if TYPE_CHECKING:
    from causality.llm.eval.dataset import Question
    from causality.llm.eval.harness import EvalReport, QuestionResult

DEFAULT_DAYS = 7
STALE_DATA = timedelta(hours=36)
"""An eval dataset older than this misleads a model that filters relative to now()."""


@click.command("eval-llm")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Eval warehouse to use (built there first when empty). Default: a temporary one.",
)
@click.option("--days", type=click.IntRange(min=1), default=None, help="Days of data to build [7].")
@click.option("--seed", type=int, default=None, help="Seed of the built dataset.")
@click.option(
    "--questions",
    "questions_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Question set (.toml or .json). Default: the packaged set.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Ask the first N only.")
@click.option("--tags", default="", help="Only questions with any of these tags (t1,t2).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the JSON report here.",
)
@click.pass_context
def eval_llm(
    ctx: click.Context,
    data_dir: Path | None,
    days: int | None,
    seed: int | None,
    questions_path: Path | None,
    limit: int | None,
    tags: str,
    as_json: bool,
    out_path: Path | None,
) -> None:
    """Ask the question set, compare each answer's result with the gold SQL's, report."""
    # imported here: `causality --help` should not load the model client and the pipeline
    from causality.llm.client import resolve_endpoint
    from causality.llm.eval.dataset import QuestionSetError, load_questions, select_questions
    from causality.llm.eval.harness import EvalAborted
    from causality.llm.types import LLMError

    settings: Settings = ctx.obj
    try:
        question_set = load_questions(questions_path)
    except QuestionSetError as exc:
        raise click.BadParameter(str(exc), param_hint="--questions") from exc
    wanted = [t for t in tags.split(",") if t.strip()]
    questions = select_questions(question_set, tags=wanted, limit=limit)
    if not questions:
        known = sorted({t for q in question_set for t in q.tags})
        raise click.BadParameter(
            f"no question has any of these tags; known tags: {', '.join(known)}",
            param_hint="--tags",
        )
    try:
        resolve_endpoint(settings)  # before minutes of work: is a model configured at all?
    except (LLMError, SettingsError) as exc:
        raise click.ClickException(getattr(exc, "message", str(exc))) from exc

    def progress(index: int, result: QuestionResult) -> None:
        note = f" ({result.reason[:120]})" if result.reason and not result.correct else ""
        click.echo(
            f"[{index + 1}/{len(questions)}] {result.id}: {result.outcome}, "
            f"{result.attempts} attempt(s), {result.latency_ms:.0f} ms{note}",
            err=True,
        )

    with _warehouse(data_dir, days=days, seed=seed) as warehouse:
        eval_settings = settings.replace(
            warehouse_uri=str(warehouse), query_engine="duckdb", partitioning="daily"
        )
        try:
            report = asyncio.run(
                _evaluate(
                    eval_settings,
                    questions=questions,
                    question_set=question_set,
                    on_result=progress,
                )
            )
        except EvalAborted as exc:
            raise click.ClickException(str(exc)) from exc
    age = datetime.now(UTC) - datetime.fromisoformat(report.data_end)
    if age > STALE_DATA:
        click.echo(
            f"note: the data ends {age.days} days ago ({report.data_end}); the prompt asks for "
            "now()-relative time filters, so rebuild the dataset (omit --data) for fair figures",
            err=True,
        )
    encoded = msgspec.json.format(msgspec.json.encode(report), indent=2).decode()
    if out_path is not None:
        out_path.write_text(encoded + "\n", encoding="utf-8")
    click.echo(encoded if as_json else render_report(report))


async def _evaluate(
    settings: Settings,
    *,
    questions: Sequence[Question],
    question_set: Sequence[Question],
    on_result: Callable[[int, QuestionResult], None],
) -> EvalReport:
    """Run the harness with the configured model on a DuckDB engine over the eval warehouse."""
    from causality.llm.client import build_model_client
    from causality.llm.eval.harness import run_eval
    from causality.query.factory import query_engine

    model = build_model_client(settings)
    try:
        async with query_engine(settings) as engine:
            return await run_eval(
                settings,
                engine=engine,
                model=model,
                questions=questions,
                question_set=question_set,
                on_result=on_result,
            )
    finally:
        await model.aclose()


@contextmanager
def _warehouse(data_dir: Path | None, *, days: int | None, seed: int | None) -> Iterator[Path]:
    """The eval warehouse: ``data_dir`` (built when empty), or a temporary one."""
    if data_dir is not None and data_dir.exists() and any(data_dir.iterdir()):
        if days is not None or seed is not None:
            raise click.UsageError("--days and --seed build a dataset; DIR already holds one")
        yield data_dir
        return
    if data_dir is not None:
        _build(data_dir, days=days, seed=seed)
        yield data_dir
        return
    with tempfile.TemporaryDirectory(prefix="causality-eval-") as temp:
        path = Path(temp) / "warehouse"
        _build(path, days=days, seed=seed)
        yield path


def _build(path: Path, *, days: int | None, seed: int | None) -> None:
    from causality.llm.eval.dataset import DEFAULT_SEED, build_eval_warehouse

    dataset = build_eval_warehouse(
        path, days=days or DEFAULT_DAYS, seed=DEFAULT_SEED if seed is None else seed
    )
    click.echo(
        f"built the eval dataset: {dataset.events:,} events over {dataset.days} days "
        f"in {dataset.path}",
        err=True,
    )


def render_report(report: EvalReport) -> str:
    """The report as a table per question and the summary lines under it."""
    s = report.summary
    columns = ("question", "outcome", "tries", "ms", "tokens", "why")
    rows = [
        (
            r.id,
            r.outcome,
            str(r.attempts),
            f"{r.latency_ms:.0f}",
            str(r.prompt_tokens + r.completion_tokens),
            "" if r.correct else r.reason[:70],
        )
        for r in report.results
    ]
    widths = [max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in (columns, tuple("-" * w for w in widths), *rows)
    ]
    tags = " · ".join(
        f"{tag} {t.execution_accuracy:.0%} ({t.correct}/{t.questions})"
        for tag, t in s.by_tag.items()
    )
    lines += [
        "",
        f"model {report.model or '?'} ({report.provider}) · data until {report.data_end}",
        f"questions {s.questions} · execution accuracy {s.execution_accuracy:.1%} "
        f"({s.correct}/{s.scored}) · valid SQL {s.valid_sql_rate:.1%} ({s.valid_sql}/{s.scored})"
        f" · failed {s.failed} · gold errors {s.gold_errors}",
        f"retries {s.retries} (on {s.questions_retried} questions) · latency p50 "
        f"{s.latency_p50_ms:.0f} ms, p95 {s.latency_p95_ms:.0f} ms",
        f"tokens {s.prompt_tokens:,} prompt + {s.completion_tokens:,} completion "
        f"({s.prompt_tokens_per_question:.0f} + {s.completion_tokens_per_question:.0f} "
        "per question)",
        f"by tag: {tags}",
    ]
    return "\n".join(lines)


COMMANDS = (eval_llm,)
