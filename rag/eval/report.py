"""Render evaluations for people: a terminal table, a comparison table, and a Markdown report with a recall@k
plot beside it."""

from __future__ import annotations

from pathlib import Path

from rag.eval.evaluation import EvalReport, MeasureComparison


def format_table(report: EvalReport) -> str:
    """The figures of one evaluation as an aligned text table, with timing."""
    split = f", split {report.split}" if report.split else ""
    lines = [f"{report.dataset} ({report.kind}{split}): {report.timing.queries} queries", ""]
    width = max(len(m) for m in report.measures)
    lines += [f"{name:<{width}}  {value:.4f}" for name, value in report.measures.items()]
    timing = report.timing
    lines.append("")
    lines.append(f"index: {_counts(report)}")
    if report.kind == "beir":
        cached = "cached, not rebuilt" if timing.index_cached else "built now"
        lines.append(f"index build: {timing.index_seconds:.1f} s ({cached})")
    lines.append(f"queries: {timing.queries} in {timing.search_seconds:.1f} s ({timing.queries_per_second:.1f} q/s)")
    return "\n".join(lines)


def format_variants(reports: list[EvalReport], versus_first: list[MeasureComparison | None]) -> str:
    """Several variants scored on the same data: one row each, and the paired test of each against the first."""
    first = reports[0]
    split = f", split {first.split}" if first.split else ""
    measures = list(first.measures)
    width = max(len(r.settings.get("mode", "")) for r in reports) + 2
    header = f"{'mode':<{width}}" + "".join(f"{m:>{max(len(m), 7) + 2}}" for m in measures) + f"{'q/s':>8}"
    lines = [f"{first.dataset} ({first.kind}{split}): {first.timing.queries} queries, index {_counts(first)}", ""]
    lines += [header, "-" * len(header)]
    for report in reports:
        values = "".join(f"{report.measures.get(m, float('nan')):>{max(len(m), 7) + 2}.4f}" for m in measures)
        lines.append(f"{report.settings.get('mode', ''):<{width}}{values}{report.timing.queries_per_second:>8.1f}")
    tests = [(r, c) for r, c in zip(reports, versus_first, strict=True) if c is not None]
    if tests:
        lines.append("")
        for report, row in tests:
            p = "n/a" if row.p_value is None else f"{row.p_value:.4f}"
            lines.append(
                f"{report.settings.get('mode')} vs {first.settings.get('mode')}: {row.measure} "
                f"{row.difference:+.4f}, paired t-test p = {p}"
            )
    return "\n".join(lines)


def format_comparison(a_name: str, b_name: str, rows: list[MeasureComparison]) -> str:
    """Two evaluations side by side with the difference and the paired t-test p-value."""
    width = max([len(r.measure) for r in rows] + [7])
    header = f"{'measure':<{width}}  {'A':>8}  {'B':>8}  {'B - A':>8}  {'p':>7}"
    lines = [f"A: {a_name}", f"B: {b_name}", "", header, "-" * len(header)]
    for row in rows:
        p = "n/a" if row.p_value is None else f"{row.p_value:.4f}"
        star = " *" if row.p_value is not None and row.p_value < 0.05 else ""
        lines.append(f"{row.measure:<{width}}  {row.a:8.4f}  {row.b:8.4f}  {row.difference:+8.4f}  {p:>7}{star}")
    lines += ["", "p: two-sided paired t-test over shared queries; * p < 0.05"]
    return "\n".join(lines)


def write_markdown_report(report: EvalReport, path: Path) -> Path:
    """Write ``path`` (Markdown) and ``<path stem>-recall.png`` beside it; return the plot's path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot = path.with_name(f"{path.stem}-recall.png")
    _plot_recall(report, plot)
    split = f" (split `{report.split}`)" if report.split else ""
    timing = report.timing
    out = [f"# Evaluation: {report.dataset}{split}", ""]
    out += ["## Settings", "", "| setting | value |", "|---|---|"]
    out += [f"| {k} | `{v}` |" for k, v in report.settings.items()]
    out += ["", "## Figures", "", "| measure | value |", "|---|---|"]
    out += [f"| {k} | {v:.4f} |" for k, v in report.measures.items()]
    out += ["", "## Timing", "", f"- index: {_counts(report)}"]
    if report.kind == "beir":
        state = "reused from the cache" if timing.index_cached else "built for this run"
        out.append(f"- index build: {timing.index_seconds:.1f} s ({state})")
    out.append(
        f"- queries: {timing.queries} in {timing.search_seconds:.1f} s ({timing.queries_per_second:.1f} queries/s)"
    )
    label = "recall@k" if report.kind == "beir" else "answer recall@k"
    out += ["", f"## {label}, k = 1..{max(report.recall_curve)}", "", f"![{label}]({plot.name})", ""]
    count = len(report.failures)
    out += ["## The worst query" if count == 1 else f"## The {count} worst queries", ""]
    for failure in report.failures:
        if report.kind == "questions":
            shown = f"{failure.score:.0f}" if failure.score else "not in the top k"
        else:
            shown = f"{failure.score:.4f}"
        measure = "answer rank" if report.kind == "questions" else "nDCG@10"
        out += [
            f"### `{failure.query_id}`: {failure.query}",
            "",
            f"{measure}: {shown}; expected: " + ", ".join(f"`{e}`" for e in failure.expected),
            "",
        ]
        for item in failure.retrieved:
            mark = " ✓" if item.get("relevant") else ""
            where = item.get("title") or item.get("source") or ""
            ident = item.get("doc_id", item.get("rank"))
            snippet = item["snippet"].replace("\n", " ").replace("|", "\\|")
            out.append(f"- `{ident}`{mark} ({item['score']:.4f}) {where}: {snippet}…")
        out.append("")
    path.write_text("\n".join(out), encoding="utf-8")
    return plot


def _counts(report: EvalReport) -> str:
    counts = report.index_counts
    return f"{counts.get('documents', 0):,} documents, {counts.get('chunks', 0):,} chunks"


def _plot_recall(report: EvalReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = sorted(report.recall_curve)
    figure, axes = plt.subplots(figsize=(6, 3.6), dpi=100)
    axes.plot(ks, [report.recall_curve[k] for k in ks], color="#2456c9")
    axes.set_xlabel("k")
    axes.set_ylabel("recall@k" if report.kind == "beir" else "answer recall@k")
    axes.set_ylim(0, 1.02)
    axes.set_xscale("log")  # k = 1..100: a linear axis squashes the small k that matter most
    axes.set_xlim(1, max(ks[-1], 2))
    axes.grid(alpha=0.3)
    axes.set_title(f"{report.dataset}: recall@k")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
