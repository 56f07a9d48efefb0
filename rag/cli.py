"""The ``rag`` command: parse arguments, call one library function, print. Library errors become one line on
stderr and exit code 1."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from rag.errors import RagError
from rag.runtime import configure_process
from rag.settings import Settings
from rag.types import MODES


def fail_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RagError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def _progress() -> bool:
    return sys.stderr.isatty()


class PluginGroup(click.Group):
    """Commands of this module, plus those other packages register under the ``rag.commands`` entry point group
    (``rag serve`` comes from the service, ``api``), loaded only when asked for: the library never imports the
    layer above it, and ``rag index`` never loads the service."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(entry.name for entry in _plugins())})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        entry = next((e for e in _plugins() if e.name == name), None)
        return entry.load() if entry is not None else None


def _plugins() -> list[Any]:
    from importlib.metadata import entry_points

    return list(entry_points(group="rag.commands"))


@click.group(cls=PluginGroup)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """Semantic search over your documents, with citations you can check."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        import transformers

        transformers.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass
    try:
        ctx.obj = Settings()
    except ValueError as exc:
        raise click.UsageError(f"invalid RAG_ setting: {exc}") from exc
    configure_process(ctx.obj)  # no hub access, FAISS threads: the library itself never sets these


index_option = click.option(
    "--index", "index_dir", type=click.Path(path_type=Path), default=None, help="Index folder (default: vectors/)."
)
mode_option = click.option(
    "--mode",
    type=click.Choice(MODES),
    default=None,
    help="Retrieval mode (default: RAG_MODE, hybrid).",
)
rerank_option = click.option(
    "--rerank/--no-rerank",
    default=None,
    help="Rerank with the cross-encoder of RAG_RERANKER (default: when one is set).",
)


@main.command("index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_option
@click.option("--full", is_flag=True, help="Rebuild from scratch instead of updating (cached vectors are reused).")
@click.option("--watch", is_flag=True, help="Keep running and update the index whenever the files change.")
@click.option(
    "--engine", type=click.Choice(["local", "ray"]), default=None,
    help="Embed in this process, or on Ray actors: a local Ray, or the cluster of --ray-address (default: RAG_ENGINE).",
)  # fmt: skip
@click.option("--ray-address", default=None, help="Ray cluster to join with --engine ray (default: RAG_RAY_ADDRESS).")
@click.option("--ray-workers", type=click.IntRange(1), default=None, help="Ray embedding actors (default: 2).")
@click.pass_obj
@fail_cleanly
def index_command(
    settings: Settings, paths: tuple[Path, ...], index_dir: Path | None, full: bool, watch: bool, engine: str | None,
    ray_address: str | None, ray_workers: int | None,
) -> None:  # fmt: skip
    """Index folders of documents (.txt, .md, .xml, .pdf, .html, .docx) or BEIR corpus.jsonl files (default: seeds/
    into vectors/).

    Incremental: only new and changed files are embedded, deleted files leave the index."""
    from rag.index.build import build_index

    chosen = {"engine": engine, "ray_address": ray_address, "ray_workers": ray_workers}
    settings = settings.model_copy(update={k: v for k, v in chosen.items() if v is not None})
    if ray_address and settings.engine != "ray":
        raise click.UsageError("--ray-address needs --engine ray (or RAG_ENGINE=ray)")
    roots = list(paths or settings.corpus)
    if watch:
        if settings.engine == "ray":
            raise click.UsageError("--watch keeps the model loaded in this process; --engine ray is for builds")
        from rag.watch import watch_and_sync

        click.echo(f"Watching {', '.join(map(str, roots))} (Ctrl-C to stop)", err=True)
        watch_and_sync(
            roots,
            settings,
            index_dir=index_dir,
            on_update=_echo_build,
            on_error=lambda exc: click.echo(f"Error: {exc}", err=True),
        )
        return
    _echo_build(build_index(roots, settings, index_dir=index_dir, progress=_progress(), full=full))


@main.command("check")
@index_option
@click.pass_obj
@fail_cleanly
def check_command(settings: Settings, index_dir: Path | None) -> None:
    """Read every file of the index and compare it with its checksum (opening an index only checks sizes)."""
    from rag.index.manifest import read_manifest
    from rag.index.reader import verify_index

    folder = Path(index_dir or settings.index_dir)
    problems = verify_index(folder)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    manifest = read_manifest(folder)
    click.echo(
        f"Index in {folder}/ is whole: {len(manifest.files)} files of {len(manifest.segments)} segments match their "
        f"checksums ({manifest.counts['documents']} documents, {manifest.counts['chunks']} chunks)"
    )


def _echo_build(report: Any) -> None:
    if not report.changed:
        click.echo(
            f"Index in {report.index_dir}/ is up to date: {report.documents} documents, {report.chunks} chunks "
            f"({report.unchanged} files unchanged, checked in {report.seconds:.1f} s)"
        )
    else:
        rate = report.embedded / max(report.seconds, 1e-9)
        click.echo(
            f"Indexed {report.documents} documents into {report.index_dir}/: {report.chunks} chunks "
            f"in {report.seconds:.1f} s ({report.embedded} passage{'' if report.embedded == 1 else 's'} embedded, "
            f"{rate:.1f}/s)"
        )
        click.echo(
            f"Files: {report.added} added, {report.updated} updated, {report.removed} removed, "
            f"{report.unchanged} unchanged; passages embedded: {report.embedded}"
            + ("" if report.rebuilt else " (previous build updated)")
        )
    if (store := report.vector_store) is not None and (store.added or store.deleted):
        written = "rewritten whole" if store.resynced else "updated"
        click.echo(f"Vectors: {store.store} {written}: {store.added} written, {store.deleted} deleted")
    for source in report.kept:
        click.echo(f"Kept the previous version of {source}: it cannot be read now")
    if report.skipped:
        click.echo(f"Skipped {len(report.skipped)}:")
        for skipped in report.skipped:
            click.echo(f"  {_display(skipped.source)}: {skipped.reason}")


@main.command("search")
@click.argument("question")
@click.option("-k", "top_k", type=int, default=None, help="Number of passages (default 5).")
@index_option
@mode_option
@rerank_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_obj
@fail_cleanly
def search_command(
    settings: Settings,
    question: str,
    top_k: int | None,
    index_dir: Path | None,
    mode: str | None,
    rerank: bool | None,
    as_json: bool,
) -> None:
    """Find the passages that answer QUESTION; the sentence that best answers it is highlighted."""
    from rag.search.answerability import answerable
    from rag.search.searcher import Searcher, validate_query

    validate_query(question)  # fail fast, before the model loads
    with Searcher.open(settings, index_dir) as searcher:
        hits = searcher.search(question, top_k, mode=mode, rerank=rerank)
    verdict = answerable(hits)
    if as_json:
        payload = {"query": question, "answerable": verdict, "results": [h.to_dict() for h in hits]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("No passages found.")
    elif verdict is False:
        click.echo("No passage in the index seems to answer this; closest matches:\n")
    for hit in hits:
        cite = hit.citation
        lines = f"{cite.line_start}" if cite.line_start == cite.line_end else f"{cite.line_start}-{cite.line_end}"
        date = f"  ({cite.date})" if cite.date else ""
        page = f" page {cite.page}" + (f" ({cite.page_label})" if cite.page_label else "") if cite.page else ""
        section = f"  § {cite.section}" if cite.section else ""
        relevance = f" relevance {hit.relevance:.2f}" if hit.relevance is not None else ""
        click.echo(
            f"{hit.rank}. [{hit.score:.3f}{relevance}] {cite.source}{page}:{lines}  chars {cite.start}-{cite.end}"
            f"{date}{section}"
        )
        click.echo(textwrap.indent(_with_highlight(hit), "   "))
        click.echo()


def _with_highlight(hit: Any) -> str:
    """The passage wrapped to 100 columns line by line (its own line breaks kept; table rows, cells joined by
    ``|``, never wrapped), its answering sentence in bold yellow on a terminal and between ``»`` and ``«``
    elsewhere (so the mark survives a pipe)."""
    text = hit.text
    if hit.highlight is not None:
        start, end = hit.highlight.start - hit.citation.start, hit.highlight.end - hit.citation.start
        text = f"{text[:start]}{_OPEN}{text[start:end]}{_CLOSE}{text[end:]}"  # marks first: wrapping moves text
    wrapped = "\n".join(
        line if " | " in line or line.lstrip().startswith("|") else textwrap.fill(line, width=100)
        for line in text.split("\n")
    )
    if not sys.stdout.isatty():
        return wrapped.replace(_OPEN, "»").replace(_CLOSE, "«")
    on, off = click.style("", fg="yellow", bold=True, reset=False), click.style("", reset=True)
    inside = False
    lines = []
    for line in wrapped.split("\n"):  # styles restart on each line so that a pager keeps them
        styled = (on if inside else "") + line.replace(_OPEN, on).replace(_CLOSE, off)
        inside = (inside or _OPEN in line) and _CLOSE not in line
        lines.append(styled + (off if inside else ""))
    return "\n".join(lines)


_OPEN, _CLOSE = "\ue000", "\ue001"
"""Private-use characters that mark the highlight while the passage is wrapped."""


@main.command("batch")
@click.argument("questions_file", type=click.Path(path_type=Path))
@click.option("-k", "top_k", type=int, default=None, help="Number of passages per question (default 5).")
@index_option
@mode_option
@rerank_option
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), default=None, help="Write JSONL here (default: stdout)."
)
@click.pass_obj
@fail_cleanly
def batch_command(
    settings: Settings,
    questions_file: Path,
    top_k: int | None,
    index_dir: Path | None,
    mode: str | None,
    rerank: bool | None,
    output: Path | None,
) -> None:
    """Answer every question of a JSONL file (lines with "question" and optional "id")."""
    from rag.batch import answer_questions, read_questions
    from rag.search.searcher import Searcher

    questions = read_questions(questions_file)
    handle = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        with Searcher.open(settings, index_dir) as searcher:
            k = top_k or settings.top_k
            for answered in answer_questions(searcher, questions, k, mode=mode, rerank=rerank, progress=_progress()):
                handle.write(json.dumps(answered.to_dict(), ensure_ascii=False) + "\n")
    finally:
        if output:
            handle.close()
    if output:
        click.echo(f"Answered {len(questions)} questions into {output}", err=True)


@main.command("eval")
@click.argument("dataset", type=click.Path(path_type=Path), required=False)
@index_option
@click.option("-k", "top_k", type=click.IntRange(1, 1000), default=100, show_default=True, help="Retrieval depth.")
@click.option("--split", default="test", show_default=True, help="BEIR qrels split (qrels/<split>.tsv).")
@click.option(
    "--mode",
    "modes",
    default=None,
    help="Variants to score, comma-separated, from dense, bm25, hybrid and X+rerank; 'all' is dense,bm25,hybrid "
    "(and hybrid+rerank when RAG_RERANKER is set). Default: RAG_MODE.",
)
@click.option("--run-out", type=click.Path(path_type=Path), default=None, help="Write a TREC run file (BEIR).")
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON (keep it for --compare).")
@click.option("--report", type=click.Path(path_type=Path), default=None, help="Write a Markdown report + plot.")
@click.option(
    "--compare",
    nargs=2,
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Compare two saved --json evaluations: A.json B.json.",
)
@click.pass_obj
@fail_cleanly
def eval_command(
    settings: Settings,
    dataset: Path | None,
    index_dir: Path | None,
    top_k: int,
    split: str,
    modes: str | None,
    run_out: Path | None,
    as_json: bool,
    report: Path | None,
    compare: tuple[Path, Path] | None,
) -> None:
    """Score retrieval on a BEIR folder or a question file (question, answers, sources), or --compare two runs.

    With several --mode variants, each is scored on the same data and index in one run and shown side by side
    (with a paired t-test against the first); --run-out and --report then write one file per variant."""
    try:
        from rag.eval import evaluation
        from rag.eval.report import format_comparison, format_table, format_variants
        from rag.eval.run import EvalRequest, run_evaluation
    except ImportError as exc:
        raise click.ClickException(
            f"rag eval needs the eval extra ({exc.name} is missing): python -m pip install -e '.[eval]'"
        ) from exc

    if compare:
        a, b = (evaluation.EvalReport.from_json(p.read_text(encoding="utf-8")) for p in compare)
        click.echo(format_comparison(str(compare[0]), str(compare[1]), evaluation.compare_reports(a, b)))
        return
    if dataset is None:
        raise click.UsageError("give a DATASET (a BEIR folder or a question .jsonl) or --compare A.json B.json")
    request = EvalRequest(dataset, index_dir, top_k, split, modes, run_out, report)
    outcomes = run_evaluation(request, settings, progress=_progress())
    reports = [o.report for o in outcomes]
    if as_json:
        payload = [json.loads(r.to_json()) for r in reports]
        click.echo(json.dumps(payload, indent=2) if len(reports) > 1 else reports[0].to_json())
    elif len(reports) > 1:
        click.echo(format_variants(reports, evaluation.compare_to_first(reports)))
    else:
        click.echo(format_table(reports[0]))
    for outcome in outcomes:
        for path in outcome.written:
            click.echo(f"Written: {path}", err=True)


def _display(source: str) -> str:
    from rag.search.citation import display_source

    return display_source(source)
