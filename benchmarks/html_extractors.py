"""Which extractor should pull the MAIN CONTENT out of saved web pages? A measurement, not a guess.

Why this exists: the project's first HTML extraction (selectolax: drop nav/header/footer/aside/form, then walk
``<main>`` or the first ``<article>`` or ``<body>``) kept whole menus on pages without ``<main>``/``<article>``
and lost text on pages whose ``<article>`` is a teaser or whose heading sits in a ``<header>``. This script
compared it with trafilatura and readability-lxml, and with "hybrid" prototypes that let trafilatura find the main
content but keep the structure the index needs (heading levels for section paths such as "Article title > Section
> Subsection", tables as rows of cells, ``<br>``/``<pre>`` line breaks, no spurious spaces around inline tags).
``rag/ingest/formats/html.py`` now implements ``hybrid.guided-fast``; the ``current`` row measures it.

Ground truth (``benchmarks/realdocs/html_truth.jsonl``, one line per page, written by reading each page, not any
extractor's output): ``main`` snippets from the article body, ``boilerplate`` snippets from menus, footers,
banners, teasers and forms, the article ``title``, and structure probes: ``headings`` ([level, text] as in the
page's HTML), ``table_rows`` (cells of one row), ``line_breaks`` ([a, b]: a and b must land on different lines)
and ``inline`` (text that must come out without spurious spaces, e.g. "Percival)." from "<a>Percival</a>).").
Every snippet is compared after Unicode NFKC, whitespace collapse and lowercasing. The six HTML questions of
``questions.jsonl`` (next to the corpus) are checked too: is an answer in the text, and does the section that
holds it carry the expected heading path?

Run (from the repository root; the corpus stays where it is, never copied into the project):

    python benchmarks/html_extractors.py --folder /work/shared/realdocs-dev/corpus/html \
        --truth benchmarks/realdocs/html_truth.jsonl [--repeat 5] [--only current,hybrid.tree] [--json out.json]

It prints one row per page and candidate, the snippets each candidate missed or kept wrongly, and a summary
with one row per candidate. Timings are the median of ``--repeat`` runs per page, single-threaded.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import re
import statistics
import sys
import time
import unicodedata
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rag.ingest.formats.extracted import load_extracted  # noqa: E402
from rag.ingest.formats.html import extract_html  # noqa: E402
from rag.ingest.formats.textbuilder import TextBuilder  # noqa: E402
from rag.types import Document  # noqa: E402

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
logging.getLogger("readability").setLevel(logging.CRITICAL)
warnings.filterwarnings("ignore")


# --------------------------------------------------------------------------------------------------------------
# What a candidate returns


@dataclass
class Extraction:
    """One candidate's result for one page. ``None`` means the candidate cannot tell (e.g. plain text has no
    heading levels), which is scored apart from "told, but wrong"."""

    text: str
    headings: list[tuple[int, str]] | None = None
    """Headings in order with their level (1-6)."""
    tables: list[list[list[str]]] | None = None
    """Tables as rows of cells."""
    sections: list[tuple[int, int, str]] | None = None
    """Spans of ``text`` with the heading path that holds them ("A > B > C")."""


Candidate = Callable[[bytes], Extraction]


def norm(text: str) -> str:
    """NFKC, whitespace collapsed, lowercased: the form every comparison uses."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).lower()


# --------------------------------------------------------------------------------------------------------------
# A structure-keeping walk (prototype of what production would run over trafilatura's result)


_HEADING = re.compile(r"h([1-6])")
_BLOCK_TAGS = frozenset(
    "p div li ul ol dl dd dt section article main header aside nav footer blockquote figure figcaption caption "
    "address summary details form fieldset center body html doc".split()
)
_SKIP_ALWAYS = frozenset({"script", "style", "noscript", "template", "head", "title", "meta", "link", "graphic"})
_BOLD = frozenset({"b", "strong"})
_BR = "\x00"
"""A <br> in the inline buffer (source newlines are only white space)."""


def _xml_tag(element: etree._Element) -> str:
    """Trafilatura's XML vocabulary mapped onto the HTML tags the walker knows."""
    tag = element.tag
    if tag == "head":
        rend = element.get("rend") or "h3"
        return rend if _HEADING.fullmatch(rend) else "h3"
    if tag == "hi":
        return "b" if element.get("rend") == "#b" else "span"
    if tag == "code":
        parent = element.getparent()
        block_parents = {"main", "body", "doc", "quote", "item", "cell", "div"}
        return "pre" if parent is None or parent.tag in block_parents else "code"
    return {
        "list": "ul",
        "item": "li",
        "row": "tr",
        "cell": "td",
        "lb": "br",
        "quote": "blockquote",
        "ref": "a",
        "main": "div",
        "comments": "aside",
    }.get(tag, tag)


def _html_tag(element: etree._Element) -> str:
    return element.tag.lower() if isinstance(element.tag, str) else ""


Event = tuple
"""("heading", level, text) | ("block", text) | ("table", rows): what a walk yields, in document order."""


class StructureWalker:
    """Blocks, headings (with level), tables (rows of cells), ``<br>``/``<pre>`` line breaks as a list of events.
    Inline tags add no spaces: "Netscape</a>." stays "Netscape.".

    ``pseudo_headings``: a paragraph that is one short bold run (``<p><strong>How effective is ...?</strong></p>``)
    opens a section one level below the last real heading (blogs write sub-headings that way)."""

    def __init__(self, *, xml_vocabulary: bool = False, drop: Iterable[str] = (), pseudo_headings: bool = True) -> None:
        self.tag_of = _xml_tag if xml_vocabulary else _html_tag
        self.drop = _SKIP_ALWAYS | frozenset(drop)
        self.pseudo_headings = pseudo_headings
        self.buffer: list[str] = []
        self.events: list[Event] = []
        self.level = 1

    def run(self, root: etree._Element) -> list[Event]:
        self._walk(root)
        self._flush()
        return self.events

    def _heading(self, level: int, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self.events.append(("heading", level, text))

    def _flush(self) -> None:
        if self.buffer:
            text = "\n".join(" ".join(line.split()) for line in "".join(self.buffer).split(_BR))
            if text.strip():
                self.events.append(("block", text.strip()))
            self.buffer.clear()

    def _walk(self, element: etree._Element) -> None:
        tag = self.tag_of(element)
        if not tag or tag in self.drop:
            return
        if match := _HEADING.fullmatch(tag):
            self._flush()
            self.level = int(match.group(1))
            self._heading(self.level, self.inline_text(element))
        elif tag == "table":
            self._flush()
            for caption in element:
                if self.tag_of(caption) == "caption":
                    self._caption(self.inline_text(caption))
            rows = [
                [self.inline_text(cell) for cell in row if self.tag_of(cell) in {"td", "th"}]
                for row in self._rows(element)
            ]
            rows = [row for row in rows if any(cell.strip() for cell in row)]
            if rows:
                self.events.append(("table", rows))
        elif tag == "pre":
            self._flush()
            text = "".join(self._raw_text(element)).strip("\n")
            if text.strip():
                self.events.append(("block", text))
        elif tag == "br":
            self.buffer.append(_BR)
        elif tag == "p" and self.pseudo_headings and self._is_pseudo_heading(element):
            self._flush()
            self._heading(min(6, self.level + 1), self.inline_text(element))
        elif tag in _BLOCK_TAGS or tag in {"li", "td", "th", "tr"}:
            self._flush()
            self.buffer.append(element.text or "")
            for child in element:
                self._walk(child)
                self.buffer.append(child.tail or "")
            self._flush()
        else:  # inline: no separator of its own
            self.buffer.append(element.text or "")
            for child in element:
                self._walk(child)
                self.buffer.append(child.tail or "")

    def _caption(self, text: str) -> None:
        if text.strip():
            self.events.append(("block", text))

    def _rows(self, table: etree._Element) -> list[etree._Element]:
        """Rows of this table, not of tables nested in its cells."""
        rows: list[etree._Element] = []
        stack = list(table)
        while stack:
            node = stack.pop(0)
            tag = self.tag_of(node)
            if tag == "tr":
                rows.append(node)
            elif tag in {"thead", "tbody", "tfoot"}:
                stack[:0] = list(node)
        return rows

    def _raw_text(self, element: etree._Element) -> list[str]:
        parts = [element.text or ""]
        for child in element:
            if self.tag_of(child) == "br":
                parts.append("\n")
            elif self.tag_of(child) not in self.drop:
                parts.extend(self._raw_text(child))
            parts.append(child.tail or "")
        return parts

    def inline_text(self, element: etree._Element) -> str:
        """Text of a heading or cell on one line: ``<br>`` and nested blocks become a space."""
        parts = [element.text or ""]
        for child in element:
            tag = self.tag_of(child)
            if tag == "br" or tag in _BLOCK_TAGS:
                parts.append(" ")
            if tag and tag not in self.drop and tag != "br":
                parts.append(self.inline_text(child))
                if tag in _BLOCK_TAGS:
                    parts.append(" ")
            parts.append(child.tail or "")
        return " ".join("".join(parts).split())

    def _is_pseudo_heading(self, element: etree._Element) -> bool:
        children = [c for c in element if self.tag_of(c)]
        if len(children) != 1 or (element.text or "").strip() or (children[0].tail or "").strip():
            return False
        if self.tag_of(children[0]) not in _BOLD:
            return False
        text = self.inline_text(element)
        return 0 < len(text) <= 100 and not text.endswith((".", ":", ","))


def render(events: list[Event], title: str | None) -> Extraction:
    """Events into the project's TextBuilder; the document opens with ``title`` as a level-1 heading when the
    events do not hold it (trafilatura usually leaves the article's <h1> out)."""
    builder = TextBuilder()
    headings: list[tuple[int, str]] = []
    tables: list[list[list[str]]] = []
    if title and norm(title) not in {norm(e[2]) for e in events if e[0] == "heading"}:
        events = [("heading", 1, title), *events]
    for event in events:
        if event[0] == "heading":
            builder.heading(event[1], event[2])
            headings.append((event[1], event[2]))
        elif event[0] == "table":
            builder.table(event[1])
            tables.append([[" ".join(c.split()) for c in row] for row in event[1]])
        else:
            builder.block(event[1])
    text = builder.build()
    return Extraction(text, headings, tables, [(s.start, s.end, s.path) for s in builder.sections])


def _build(
    root: etree._Element | None, *, xml_vocabulary: bool, title: str | None, drop: Iterable[str] = ()
) -> Extraction:
    events = StructureWalker(xml_vocabulary=xml_vocabulary, drop=drop).run(root) if root is not None else []
    return render(events, title)


def article_title(tree: etree._Element) -> str | None:
    """The article's own heading: the page's <h1> (the one most like <title>/og:title when there are several);
    without an <h1>, an <h2>/<h3> that the <title> contains."""
    reference = ""
    og = tree.xpath("//meta[@property='og:title']/@content")
    if og:
        reference = str(og[0])
    titles = tree.xpath("//title")
    if titles:
        reference = reference or titles[0].text_content()
    reference = norm(reference)

    def similarity(text: str) -> float:
        return 1.0 if text and text in reference else difflib.SequenceMatcher(None, text, reference).ratio()

    h1s = [" ".join(e.text_content().split()) for e in tree.iter("h1")]
    h1s = [h for h in h1s if h]
    if len(h1s) == 1:
        return h1s[0]
    if h1s:
        return max(h1s, key=lambda h: similarity(norm(h)))
    others = [" ".join(e.text_content().split()) for e in tree.iter("h2", "h3")]
    scored = [(similarity(norm(h)), h) for h in others if len(h) > 10]
    scored = [item for item in scored if item[0] >= 0.99]
    return scored[0][1] if scored else None


# --------------------------------------------------------------------------------------------------------------
# Candidates


def current_code(data: bytes) -> Extraction:
    """The project's extractor, through its public entry point; heading levels from a recording builder."""
    docs = [d for d in load_extracted(Path("page.html"), data) if isinstance(d, Document)]
    if not docs:
        return Extraction("", [], [], [])
    doc = docs[0]

    class Recorder(TextBuilder):
        def __init__(self) -> None:
            super().__init__()
            self.levels: list[tuple[int, str]] = []

        def heading(self, level: int, text: str) -> None:
            if " ".join(text.split()):
                self.levels.append((level, " ".join(text.split())))
            super().heading(level, text)

    recorder = Recorder()
    extract_html(data, recorder)
    tables = [
        [[c.strip() for c in re.split(r"\s*\|\s*", line)] for line in doc.text[t.start : t.end].split("\n")]
        for t in doc.tables
    ]
    return Extraction(doc.text, recorder.levels, tables, [(s.start, s.end, s.path) for s in doc.sections])


def _text_tables(text: str) -> list[list[list[str]]]:
    """Tables in trafilatura's txt/markdown output: runs of lines "| a | b |" (separator rows skipped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _markdown_structure(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, int, str]]]:
    headings: list[tuple[int, str]] = []
    sections: list[tuple[int, int, str]] = []
    stack: list[tuple[int, str]] = []
    start, offset = None, 0
    for line in text.splitlines(keepends=True):
        match = re.match(r"(#{1,6})\s+(.*\S)\s*$", line)
        if match:
            if start is not None and stack:
                sections.append((start, offset, " > ".join(t for _, t in stack)))
            level, title = len(match.group(1)), match.group(2).strip("# ")
            headings.append((level, title))
            stack = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, title)]
            start = offset
        offset += len(line)
    if start is not None and stack:
        sections.append((start, offset, " > ".join(t for _, t in stack)))
    return headings, sections


def trafilatura_text(**options) -> Candidate:
    import trafilatura

    def run(data: bytes) -> Extraction:
        text = trafilatura.extract(data, **options) or ""
        if options.get("output_format") == "markdown":
            headings, sections = _markdown_structure(text)
            return Extraction(text, headings, _text_tables(text), sections)
        return Extraction(text, None, _text_tables(text), None)

    return run


def trafilatura_markup(output_format: str, **options) -> Candidate:
    """trafilatura's 'xml' or 'html' output, parsed and walked (text, heading levels, tables as rows)."""
    import trafilatura

    def run(data: bytes) -> Extraction:
        out = trafilatura.extract(data, output_format=output_format, **options) or ""
        if not out:
            return Extraction("", [], [], [])
        if output_format == "xml":
            root = etree.fromstring(out.encode("utf-8"), etree.XMLParser(remove_blank_text=True))
            main = root.find("main")
            return _build(main, xml_vocabulary=True, title=None)
        root = lxml_html.fromstring(out)
        return _build(root, xml_vocabulary=False, title=None)

    return run


HYBRID_OPTIONS = dict(
    include_tables=True,
    include_formatting=True,
    include_comments=False,
    include_links=False,
    include_images=False,
    deduplicate=False,
    with_metadata=False,
)


def hybrid_tree(**overrides) -> Candidate:
    """trafilatura locates the main content (``bare_extraction``); its body tree (XML vocabulary: head rend=hN,
    p, list/item, table/row/cell, lb, code, quote) is walked into the project's TextBuilder; the page's own
    article heading is put back on top when trafilatura left it out."""
    from trafilatura import bare_extraction, load_html

    options = {**HYBRID_OPTIONS, **overrides}

    def run(data: bytes) -> Extraction:
        tree = load_html(data)
        if tree is None:
            return Extraction("", [], [], [])
        title = article_title(tree)
        result = bare_extraction(tree, **options)  # copies the tree: ours stays intact
        body = result.body if result is not None else None
        return _build(body, xml_vocabulary=True, title=title)

    return run


_DOM_DROP = ("nav", "aside", "footer", "form", "button", "svg", "iframe", "select", "input", "textarea")


def _content_root(tree: etree._Element, body: etree._Element) -> etree._Element | None:
    """The smallest ORIGINAL element that holds 90% of the blocks trafilatura kept (matched on the first 40
    normalized characters of each block)."""
    samples: dict[str, etree._Element] = {}
    for element in body.iter("p", "item", "cell", "head", "code"):
        text = norm(" ".join(element.itertext()))
        if len(text) >= 25:
            samples.setdefault(text[:40], element)
    matched: list[etree._Element] = []
    for element in tree.iter(
        "p", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dd", "dt", "blockquote", "figcaption", "div"
    ):
        key = norm(element.text_content())[:40]
        if key in samples:
            samples.pop(key)
            matched.append(element)
    if not matched:
        return None
    counts: dict[etree._Element, int] = {}
    for element in matched:
        for ancestor in [element, *element.iterancestors()]:
            counts[ancestor] = counts.get(ancestor, 0) + 1
    need = 0.9 * len(matched)
    return max((a for a, n in counts.items() if n >= need), key=lambda a: sum(1 for _ in a.iterancestors()))


def _locate(data: bytes, options: dict) -> tuple[etree._Element | None, etree._Element | None, str | None]:
    """(original tree, trafilatura's body, article title)."""
    from trafilatura import bare_extraction, load_html

    tree = load_html(data)
    if tree is None:
        return None, None, None
    title = article_title(tree)
    result = bare_extraction(tree, **options)  # copies the tree: ours stays intact
    return tree, (result.body if result is not None else None), title


def hybrid_dom(**overrides) -> Candidate:
    """trafilatura locates the main content; the smallest original element holding 90% of what it kept is walked
    instead of trafilatura's output (keeps headings and tables trafilatura discarded, but also whatever share
    buttons, teasers and tables of contents sit inside that element)."""
    options = {**HYBRID_OPTIONS, **overrides}

    def run(data: bytes) -> Extraction:
        tree, body, title = _locate(data, options)
        root = _content_root(tree, body) if tree is not None and body is not None else None
        return _build(root, xml_vocabulary=False, title=title, drop=_DOM_DROP)

    return run


def _shingles(text: str, size: int = 4) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text)
    return {tuple(words[i : i + size]) for i in range(max(0, len(words) - size + 1))}


def hybrid_guided(**overrides) -> Candidate:
    """Like ``hybrid.dom``, but a block of the original subtree is kept only when trafilatura kept its text; a
    table when a third of its cells are in trafilatura's text; a heading (original level) when its section keeps
    something. Trafilatura decides WHAT is content, the original DOM gives the STRUCTURE (heading levels, whole
    table rows even where trafilatura emptied link-only cells)."""
    options = {**HYBRID_OPTIONS, **overrides}

    def run(data: bytes) -> Extraction:
        tree, body, title = _locate(data, options)
        root = _content_root(tree, body) if tree is not None and body is not None else None
        if root is None:
            return render([], title)
        kept_text = norm(" ".join(body.itertext()))
        kept_blocks = {norm(" ".join(e.itertext())) for e in body.iter("p", "item", "cell", "head", "code")}
        kept_shingles = _shingles(kept_text)

        def kept(text: str) -> bool:
            """Trafilatura kept this text: verbatim, or (its rendering differs: footnote marks, <sup>, spacing)
            half of its 4-word shingles."""
            text = norm(text)
            if text in kept_blocks or (len(text) >= 15 and text in kept_text):
                return True
            shingles = _shingles(text)
            return len(shingles) >= 3 and len(shingles & kept_shingles) >= 0.5 * len(shingles)

        events = StructureWalker(drop=_DOM_DROP).run(root)
        filtered: list[Event] = []
        for event in events:
            if event[0] == "block" and kept(event[1]):
                filtered.append(event)
            elif event[0] == "table":
                cells = [c for row in event[1] for c in row if len(c.strip()) >= 2]
                if cells and sum(kept(c) or norm(c) in kept_text for c in cells) >= len(cells) / 3:
                    filtered.append(event)
            elif event[0] == "heading":
                filtered.append(event)
        # a heading stays when something is kept before the next heading of the same or a higher level
        result: list[Event] = []
        for i, event in enumerate(filtered):
            if event[0] != "heading":
                result.append(event)
                continue
            for later in filtered[i + 1 :]:
                if later[0] != "heading":
                    result.append(event)
                    break
                if later[1] <= event[1]:
                    break
        return render(result, title)

    return run


def readability_candidate(data: bytes) -> Extraction:
    from readability import Document as Readable

    summary = Readable(data).summary(html_partial=True)
    return _build(lxml_html.fromstring(summary), xml_vocabulary=False, title=None)


def candidates() -> dict[str, Candidate]:
    no_comments = dict(include_comments=False)
    structured = dict(include_tables=True, include_formatting=True, include_comments=False)
    return {
        "current": current_code,
        "readability": readability_candidate,
        "traf.txt": trafilatura_text(),
        "traf.txt-nocomments": trafilatura_text(**no_comments),
        "traf.txt-precision": trafilatura_text(favor_precision=True, **no_comments),
        "traf.txt-recall": trafilatura_text(favor_recall=True, **no_comments),
        "traf.txt-fast": trafilatura_text(fast=True, **no_comments),
        "traf.markdown": trafilatura_text(output_format="markdown", **structured),
        "traf.xml": trafilatura_markup("xml", **structured),
        "traf.xml-recall": trafilatura_markup("xml", favor_recall=True, **structured),
        "traf.html": trafilatura_markup("html", **structured),
        "hybrid.tree": hybrid_tree(),
        "hybrid.tree-recall": hybrid_tree(favor_recall=True),
        "hybrid.dom": hybrid_dom(),
        "hybrid.guided": hybrid_guided(),
        "hybrid.guided-recall": hybrid_guided(favor_recall=True),
        "hybrid.guided-fast": hybrid_guided(fast=True, favor_recall=True),
    }


# --------------------------------------------------------------------------------------------------------------
# Scoring


@dataclass
class PageScore:
    page: str
    candidate: str
    recall: float
    boilerplate: float
    title: bool
    chars: int
    ms: float
    headings: tuple[int, int] | None
    heading_lines: tuple[int, int]
    tables: tuple[int, int] | None
    line_breaks: tuple[int, int]
    inline: tuple[int, int]
    answers: tuple[int, int]
    section_paths: tuple[int, int] | None
    missed_main: list[str] = field(default_factory=list)
    kept_boilerplate: list[str] = field(default_factory=list)
    wrong_paths: list[str] = field(default_factory=list)


def _lines(text: str) -> list[str]:
    return [norm(line.lstrip("#").strip()) for line in text.splitlines() if line.strip()]


def score(page: dict, questions: list[dict], result: Extraction, name: str, ms: float) -> PageScore:
    text = norm(result.text)
    lines = _lines(result.text)
    main = [s for s in page["main"] if norm(s) in text]
    kept = [s for s in page["boilerplate"] if norm(s) in text]
    title = norm(page["title"])
    title_kept = title in lines or any(norm(h) == title for _, h in result.headings or [])

    truth_heads = page.get("headings", [])
    headings = None
    if result.headings is not None and truth_heads:
        got = {(lvl, norm(h)) for lvl, h in result.headings}
        got_text = {norm(h) for _, h in result.headings}
        # the article title may be re-levelled as the document's root heading: its text is enough
        ok = sum(1 for lvl, h in truth_heads if (lvl, norm(h)) in got or (norm(h) == title and norm(h) in got_text))
        headings = (ok, len(truth_heads))
    heading_lines = (sum(1 for _, h in truth_heads if norm(h) in lines), len(truth_heads))

    truth_rows = page.get("table_rows", [])
    tables = None
    if truth_rows:
        got_rows = [[norm(c) for c in row if c.strip()] for table in result.tables or [] for row in table]
        tables = (sum(1 for row in truth_rows if [norm(c) for c in row if c.strip()] in got_rows), len(truth_rows))

    def separate(a: str, b: str) -> bool:
        ia = [i for i, line in enumerate(lines) if norm(a) in line]
        ib = [i for i, line in enumerate(lines) if norm(b) in line]
        return bool(ia and ib) and not set(ia) & set(ib)

    breaks = page.get("line_breaks", [])
    line_breaks = (sum(1 for a, b in breaks if separate(a, b)), len(breaks))
    inline = (sum(1 for s in page.get("inline", []) if norm(s) in text), len(page.get("inline", [])))

    answers_found, paths_ok, wrong = 0, 0, []
    for q in questions:
        answers = [norm(a) for a in q["answers"]]
        if any(a in text for a in answers):
            answers_found += 1
        if result.sections is not None and q.get("section"):
            holders = [p for s, e, p in result.sections if any(a in norm(result.text[s:e]) for a in answers)]
            if any(norm(p) == norm(q["section"]) for p in holders):
                paths_ok += 1
            else:
                wrong.append(f"{q['id']}: {holders[:1] or 'no section'}")
    with_paths = [q for q in questions if q.get("section")]
    return PageScore(
        page=Path(page["page"]).name,
        candidate=name,
        recall=len(main) / len(page["main"]),
        boilerplate=len(kept) / len(page["boilerplate"]),
        title=title_kept,
        chars=len(result.text),
        ms=ms,
        headings=headings,
        heading_lines=heading_lines,
        tables=tables,
        line_breaks=line_breaks,
        inline=inline,
        answers=(answers_found, len(questions)),
        section_paths=(paths_ok, len(with_paths)) if result.sections is not None and with_paths else None,
        missed_main=[s for s in page["main"] if s not in main],
        kept_boilerplate=kept,
        wrong_paths=wrong,
    )


def timed(candidate: Candidate, data: bytes, repeat: int) -> tuple[Extraction, float]:
    durations, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = candidate(data)
        durations.append(time.perf_counter() - start)
    assert result is not None
    return result, statistics.median(durations) * 1000


# --------------------------------------------------------------------------------------------------------------
# Report


def _frac(pair: tuple[int, int] | None) -> str:
    return "-" if pair is None else f"{pair[0]}/{pair[1]}" if pair[1] else "."


def _sum(pairs: Iterable[tuple[int, int] | None]) -> str:
    pairs = [p for p in pairs if p is not None]
    if not pairs:
        return "n/a"
    return f"{sum(p[0] for p in pairs)}/{sum(p[1] for p in pairs)}"


def print_pages(scores: list[PageScore]) -> None:
    header = (
        f"{'page':<26}{'candidate':<21}{'recall':>7}{'boiler':>7}{'title':>6}{'chars':>8}{'ms':>8}"
        f"{'heads':>7}{'hline':>7}{'table':>6}{'br':>5}{'inl':>5}{'ans':>5}{'path':>5}"
    )
    print(header)
    print("-" * len(header))
    previous = None
    for s in scores:
        if previous and previous != s.page:
            print()
        previous = s.page
        print(
            f"{s.page:<26}{s.candidate:<21}{s.recall:>7.2f}{s.boilerplate:>7.2f}{'yes' if s.title else 'no':>6}"
            f"{s.chars:>8}{s.ms:>8.1f}{_frac(s.headings):>7}{_frac(s.heading_lines):>7}{_frac(s.tables):>6}"
            f"{_frac(s.line_breaks):>5}{_frac(s.inline):>5}{_frac(s.answers):>5}{_frac(s.section_paths):>5}"
        )


def print_details(scores: list[PageScore]) -> None:
    print("\nMissed main snippets / kept boilerplate / wrong section paths (per page and candidate)")
    for s in scores:
        notes = []
        if s.missed_main:
            notes.append("missed: " + "; ".join(m[:45] for m in s.missed_main))
        if s.kept_boilerplate:
            notes.append("boilerplate: " + "; ".join(b[:30] for b in s.kept_boilerplate))
        if s.wrong_paths:
            notes.append("paths: " + "; ".join(w[:90] for w in s.wrong_paths))
        if notes:
            print(f"  {s.page} / {s.candidate}: " + " | ".join(notes))


def print_summary(scores: list[PageScore], names: list[str]) -> None:
    print("\nSummary (means over pages; structure columns are hits/probes summed over pages)")
    header = (
        f"{'candidate':<21}{'recall':>7}{'boiler':>7}{'<0.8':>5}{'titles':>7}{'ms/page':>8}{'heads':>7}"
        f"{'hline':>7}{'table':>6}{'br':>5}{'inl':>6}{'ans':>5}{'path':>5}  pages with recall < 0.8"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        rows = [s for s in scores if s.candidate == name]
        low = [s.page.removesuffix(".html") for s in rows if s.recall < 0.8]
        print(
            f"{name:<21}{statistics.mean(s.recall for s in rows):>7.2f}"
            f"{statistics.mean(s.boilerplate for s in rows):>7.2f}{len(low):>5}"
            f"{sum(s.title for s in rows):>4}/{len(rows):<2}{statistics.mean(s.ms for s in rows):>8.1f}"
            f"{_sum(s.headings for s in rows):>7}{_sum(s.heading_lines for s in rows):>7}"
            f"{_sum(s.tables for s in rows):>6}{_sum(s.line_breaks for s in rows):>5}"
            f"{_sum(s.inline for s in rows):>6}{_sum(s.answers for s in rows):>5}"
            f"{_sum(s.section_paths for s in rows):>5}  {', '.join(low)}"
        )
    print(
        "\nColumns: recall = main snippets found; boiler = boilerplate snippets kept; titles = article title "
        "kept as its own line/heading; heads = truth headings kept with their level (n/a: no levels); hline = "
        "heading text on a line of its own; table = truth rows kept as rows of cells; br = <br>/<pre> line "
        "breaks kept; inl = inline probes without spurious spaces; ans/path = questions.jsonl answers found / "
        "in a section with the expected heading path."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--folder",
        type=Path,
        default=Path("/work/shared/realdocs-dev/corpus/html"),
        help="the saved pages (read in place)",
    )
    parser.add_argument("--truth", type=Path, default=REPO / "benchmarks/realdocs/html_truth.jsonl")
    parser.add_argument(
        "--questions", type=Path, default=None, help="questions.jsonl (default: two levels above --folder)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per page and candidate (median time)")
    parser.add_argument("--only", default="", help="comma-separated candidate names")
    parser.add_argument("--json", type=Path, default=None, help="write every page score here")
    parser.add_argument("--no-details", action="store_true", help="skip the missed-snippet listing")
    args = parser.parse_args()

    truth = [json.loads(line) for line in args.truth.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions_path = args.questions or args.folder.parent.parent / "questions.jsonl"
    questions = (
        [json.loads(line) for line in questions_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if questions_path.exists()
        else []
    )
    available = candidates()
    names = [n for n in (args.only.split(",") if args.only else available) if n]
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(f"unknown candidates {unknown}; choose from {list(available)}")

    scores: list[PageScore] = []
    for page in truth:
        path = args.folder / Path(page["page"]).name
        data = path.read_bytes()
        page_questions = [q for q in questions if page["page"] in q.get("sources", [])]
        for name in names:
            result, ms = timed(available[name], data, args.repeat)
            scores.append(score(page, page_questions, result, name, ms))

    print_pages(scores)
    if not args.no_details:
        print_details(scores)
    print_summary(scores, names)
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in scores], ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
