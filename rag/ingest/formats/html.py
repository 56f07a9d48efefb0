"""HTML: the page's main text with its structure. trafilatura decides WHAT is content (it tells an article from its
menus, teasers, banners and footers); the page's own elements give the STRUCTURE the index needs: heading levels
for section paths, tables by rows, ``<br>``/``<pre>`` line breaks, no spaces invented around inline tags. The
design is the ``hybrid.guided-fast`` candidate of ``benchmarks/html_extractors.py``, measured on real pages."""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from rag.ingest.decoding import UndecodableFileError, browser_codec, decode_bytes
from rag.ingest.formats.docx_numbering import format_number, integer
from rag.ingest.formats.textbuilder import TextBuilder, UnreadableError
from rag.textforms import searchable

if TYPE_CHECKING:
    from lxml.html import HtmlElement

logger = logging.getLogger(__name__)

MAX_HTML_DEPTH = 2_000
"""Deepest element nesting read. The HTML parser (libxml2) stops at 2,048 levels and silently drops the rest of the
page, so deeper pages are refused instead; browsers themselves stop nesting at a few hundred."""
_PARSER_DEPTH = 2_048
MAX_MAIN_CONTENT_ELEMENTS = 30_000
"""Pages with more elements skip main-content detection and are walked plainly (``<main>`` or ``<body>`` without
navigation, banners and forms): trafilatura's time grows with the square of the element count (measured: 30,000
paragraphs 3.4 s, 100,000 19 s, 250,000 171 s), while a large real article page (Wikipedia's) has about 10,000."""

_TRAFILATURA_OPTIONS = dict(
    fast=True,
    favor_recall=True,
    deduplicate=False,  # its duplicate test keeps a module-wide cache: a page read twice would lose text
    with_metadata=False,
    include_comments=False,
    include_tables=True,
    include_formatting=True,
    include_links=False,
    include_images=False,
)


class Heading(NamedTuple):
    level: int
    text: str
    element: HtmlElement | None = None
    """The page's element, when the walk read one (the article title added at render time has none)."""


class Block(NamedTuple):
    text: str
    marker: str = ""
    """The number a browser shows before an ordered list's item ("3.", "b."), kept apart from the text so that
    the text compares with trafilatura's, which has none."""


class Table(NamedTuple):
    rows: list[list[str]]
    element: HtmlElement | None = None


Event = Heading | Block | Table
"""What a walk yields, in document order."""


def extract_html(data: bytes, builder: TextBuilder) -> str | None:
    """The main text of a page into ``builder`` (headings as sections, tables by rows); returns its <title>."""
    text = _decode_html(data, builder.notes)
    depth = _nesting_depth(text)
    if depth > MAX_HTML_DEPTH:
        raise UnreadableError(
            f"elements nested {depth:,} deep; pages nested over {MAX_HTML_DEPTH:,} deep are refused (real pages nest "
            f"a few dozen, and the HTML parser stops reading at {_PARSER_DEPTH:,} levels)"
        )
    tree = _parse(text)
    if tree is None:
        return None
    _drop_what_readers_skip(tree)
    large = sum(1 for _ in tree.iter()) > MAX_MAIN_CONTENT_ELEMENTS
    title = _article_title(tree)
    events = [] if large else _main_content(tree, title)
    if all(isinstance(e, Heading) for e in events):  # too large, or trafilatura found nothing, or nothing matched
        events = _plain_walk(tree)
    _render(events, title, builder)
    return _page_title(tree)


_CONTAINER_TAG = re.compile(
    r"<(/?)(?:div|span|section|article|main|aside|nav|header|footer|blockquote|ul|ol|dl|table|form|fieldset|figure"
    r"|details|center)\b[^>]*?(/?)>",
    re.IGNORECASE,
)
"""Elements that nest until closed (no implied end tag, not re-parented like <b> or <font>)."""


def _nesting_depth(html: str) -> int:
    """The deepest nesting of container elements, counted from their tags in one pass (before parsing)."""
    depth = deepest = 0
    for match in _CONTAINER_TAG.finditer(html):
        if match.group(2):
            continue
        depth = max(0, depth - 1) if match.group(1) else depth + 1
        deepest = max(deepest, depth)
    return deepest


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HEAD_END = re.compile(rb"</head|<body", re.IGNORECASE)


def web_archive_page(data: bytes) -> bytes:
    """The page of a browser's one-file save (MHTML, RFC 2557: Chrome's "Webpage, Single File", Edge's and
    Internet Explorer's web archives): its root HTML part, transfer encoding undone. A part whose MIME header names
    a charset is returned as UTF-8 with a byte order mark, so that ``_decode_html`` reads it so; otherwise the
    page's own declaration decides, as for any page."""
    from email import message_from_bytes, policy

    try:
        archive = message_from_bytes(data, policy=policy.compat32)
        pages = [part for part in archive.walk() if part.get_content_type() in ("text/html", "application/xhtml+xml")]
    except RecursionError:  # the standard library's MIME parser recurses once per level of nesting
        raise UnreadableError("not a readable web archive (MHTML): its MIME parts are nested too deep") from None
    start = archive.get_param("start")
    root = next((p for p in pages if isinstance(start, str) and p.get("Content-ID") == start), None)
    page = root or (pages[0] if pages else None)
    content = page.get_payload(decode=True) if page is not None else None
    if not isinstance(content, bytes) or not content.strip():
        raise UnreadableError("not a readable web archive (MHTML): it holds no HTML page")
    charset = page.get_content_charset()
    if charset:
        try:
            return b"\xef\xbb\xbf" + content.decode(browser_codec(charset)).encode("utf-8")
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong or unknown label: the page's own declaration, or its bytes, decide
    return content


def _decode_html(data: bytes, notes: list[str]) -> str:
    """Decode as browsers do: with the charset the page declares in its <head>, read as they read it
    (``browser_codec``), bytes it does not decode shown as U+FFFD and noted in ``notes`` (old sites mix a template
    in one encoding with content in another). Where browsers show mojibake, the bytes decide instead: a page that
    is valid UTF-8 throughout is UTF-8 whatever it declares; with a byte order mark, without a declaration, or
    when most of its
    non-ASCII characters do not decode in the declared charset (a Latin-1 or cp1251 page under a template's
    "UTF-8", where a few byte pairs happen to be valid UTF-8), as any text file. The <head> is searched up to 64
    KiB: pages declare their charset after long <title>s, scripts and styles."""
    window = data[:65_536]
    if end := _HEAD_END.search(window):
        window = window[: end.start()]
    declared = None if data.startswith(b"\xef\xbb\xbf") else _META_CHARSET.search(window)
    charset = browser_codec(declared.group(1).decode("ascii")) if declared else None
    if charset and charset != "utf-8" and not data.isascii():
        try:  # valid UTF-8 throughout, non-ASCII included: the page was re-saved as UTF-8, its template was not
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if charset:
        try:
            return data.decode(charset)
        except LookupError:
            pass  # an unknown charset name: detect instead
        except UnicodeDecodeError as exc:
            text = data.decode(charset, errors="replace")
            damaged = text.count("\ufffd")
            if sum(1 for c in text if ord(c) > 0x7F) - damaged > damaged:  # most of it is in the declared charset
                first = data[exc.start : exc.start + 1]
                notes.append(
                    f"declares charset {charset} but {damaged:,} byte sequence(s) are not valid {charset} (the first "
                    f"at byte {exc.start}, {first!r}); indexed with U+FFFD in their place, as browsers show them"
                )
                return text
    try:
        return decode_bytes(data)[0]
    except UndecodableFileError as exc:
        raise UnreadableError(str(exc)) from None


_XML_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml[^>]*>")


def _parse(text: str) -> HtmlElement | None:
    """The page as an lxml tree, or None when it holds no elements. Parsed from the decoded text (lxml given bytes
    would guess the charset itself), with ``huge_tree`` (libxml2 otherwise stops at 256 levels and drops the rest);
    a page the parser stopped reading early is refused rather than indexed in part."""
    from lxml import etree
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(
        collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True, huge_tree=True
    )
    try:  # lxml refuses a str that carries an XML encoding declaration; the text is decoded already
        tree = lxml_html.document_fromstring(_XML_DECLARATION.sub("", text), parser=parser)
    except etree.ParserError:
        return None  # "Document is empty": nothing but white space or comments
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        raise UnreadableError(
            f"elements nested over {_PARSER_DEPTH:,} deep (the HTML parser's limit; real pages nest a few dozen)"
        )
    return tree


_SYMBOL_ONLY = re.compile(r"\W?")


def _drop_what_readers_skip(tree: HtmlElement) -> None:
    """Remove what a reader skips as part of the page's text. The links a page puts beside its headings and
    definitions to their own place in it (Sphinx's and MkDocs' "¶", Hugo's "#", an icon): a link to a fragment of
    the page whose text is one symbol or none. They end up in section paths ("Examples¶"), and trafilatura takes a
    definition list holding them for links and drops it (Sphinx's API entries: a function's description lost).
    MediaWiki's "[edit]" links. MathML's annotations: a formula's TeX source, which browsers never show
    ("{\\displaystyle N}" beside each of Wikipedia's formulas). Their tail text stays."""
    for link in tree.xpath("//a[starts-with(@href, '#')]"):
        text = searchable("".join(link.itertext())).strip()
        if _SYMBOL_ONLY.fullmatch(text):
            link.drop_tree()
    for control in tree.xpath(_EDIT_SECTION):
        control.drop_tree()
    for source in list(tree.iter("annotation", "annotation-xml")):
        source.drop_tree()


_EDIT_SECTION = "|".join(
    f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"
    for name in ("mw-editsection", "editsection")
)
"""MediaWiki's "[edit]" beside each heading (Wikipedia and every wiki on MediaWiki): section paths read "Plot[edit]"."""


def _norm(text: str) -> str:
    """NFKC, white space collapsed, lowercased: the form texts are compared in."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).lower()


def _squeeze(text: str) -> str:
    """``_norm`` without any white space: trafilatura and the walker space inline tags differently."""
    return _unspaced(_norm(text))


def _unspaced(text: str) -> str:
    """``text`` without white space: compares the walk's text with an element's where ``_squeeze``'s NFKC of a
    whole container would cost more than the comparison is worth."""
    return "".join(text.split())


def _page_title(tree: HtmlElement) -> str | None:
    titles = tree.xpath("//head/title") or tree.xpath("//title")  # not an <svg>'s <title> when <head> has one
    return " ".join(titles[0].text_content().split()) or None if titles else None


def _article_title(tree: HtmlElement) -> str | None:
    """The article's own heading, which trafilatura often leaves out: the <h1> most like og:title/<title>, unless
    it is unlike them (a theme's site-name <h1>) and a lower heading is contained in them (Engadget's headline is an
    <h4>), or else og:title, when that <h1> is shorter and in <title> (the site's name after the headline); else the
    first <h1>."""
    og_title = tree.xpath("//meta[@property='og:title']/@content")
    og_text = " ".join(str(og_title[0]).split()) if og_title else ""
    page_title = _page_title(tree) or ""
    reference = _norm(og_text or page_title)[:300]

    def likeness(text: str) -> float:
        text = _norm(text)[:300]
        return 1.0 if text and text in reference else difflib.SequenceMatcher(None, text, reference).ratio()

    heading_text = _Walker(_ALWAYS_DROP).text_of  # as the walk writes headings ("Uses of Class<br>Foo": a space)
    h1s = [text for e in tree.iter("h1") if (text := heading_text(e))]
    if not reference:
        return h1s[0] if h1s else None
    best = max(h1s, key=lambda text: (likeness(text), len(text)), default=None)  # of two in <title>, the headline
    if best is not None and likeness(best) >= 0.5:
        return best
    others = [text for e in tree.iter("h2", "h3", "h4", "h5", "h6") if len(text := heading_text(e)) > 10]
    contained = next((text for text in others if likeness(text) >= 0.99), None)
    if contained is None and best is not None and len(og_text) > len(best) and _norm(best) in _norm(page_title):
        return og_text  # the <h1> is the site's name, as <title> ends with it; og:title names the article
    return contained or best


def _main_content(tree: HtmlElement, title: str | None) -> list[Event]:
    """The page's main content, as trafilatura sees it, walked in the page's own elements: the smallest element
    holding 90% of the blocks trafilatura kept, each block, table and heading of it kept only when trafilatura kept
    its text. Empty when trafilatura finds nothing or fails (any failure: the page is then walked plainly)."""
    from trafilatura import bare_extraction  # a broken install fails loudly (the file is reported), not silently

    try:
        result = bare_extraction(tree, **_TRAFILATURA_OPTIONS)  # works on a copy: our tree stays whole
    except Exception as exc:  # a bug or limit in a third-party heuristic must not lose the page
        logger.warning("main-content detection failed (%s: %s); reading the whole page", type(exc).__name__, exc)
        return []
    kept = result.body if result is not None else None
    root = _content_root(tree, kept) if kept is not None else None
    if root is None:
        return []
    events = _keep_what_trafilatura_kept(_Walker(_GUIDED_DROP).run(root), kept)
    shown = {_squeeze(e.text) for e in events if isinstance(e, Block)}
    opening = [Block(t) for t in _opening(tree, root, title, _kept_blocks(kept)) if _squeeze(t) not in shown]
    if opening and events:
        at = 1 if isinstance(events[0], Heading) and events[0].level == 1 else 0
        events[at:at] = opening
    return events


def _opening(tree: HtmlElement, root: HtmlElement, title: str | None, kept_blocks: set[str]) -> list[str]:
    """What the page shows of the article above its container, outside it: the element that reads exactly as the
    page's description (og:description, twitter:description or <meta name=description>), and the paragraphs after
    the article's title (its heading reads ``title``) that trafilatura kept, of ``LEAD_GAP_WORDS`` words or more.
    News pages set the summary between the headline and the body (Ars Technica's subtitle, Le Figaro's chapô), and
    magazines an intro ("o-article__intro", "ce_articleIntro"), outside the body whose container holds most of what
    trafilatura kept."""
    described = tree.xpath(
        "//meta[@property='og:description' or @name='description' or @name='twitter:description']/@content"
    )
    wanted = {squeezed for text in described if len(squeezed := _squeeze(str(text))) >= 20}
    sizes = [len(text) for text in wanted]
    holders = set(root.iterancestors())  # they hold the container: never only the summary
    texts: list[str] = []
    after_title = summary_seen = False
    for element in tree.iter(*_PAGE_BLOCKS, "div"):
        if element is root:
            break  # document order: everything from here on is the container or after it
        if element in holders or element.tag in ("li", "td", "th", "dd", "dt"):
            continue
        if not after_title and _HEADING.fullmatch(element.tag) and _Walker(_ALWAYS_DROP).text_of(element) == title:
            after_title = True
            continue
        if wanted and not summary_seen:
            compact = _unspaced(element.text_content())
            if any(size // 2 <= len(compact) <= 2 * size for size in sizes) and _squeeze(compact) in wanted:
                summary_seen = True
                if _squeeze(text := _Walker(_ALWAYS_DROP).text_of(element)) in wanted:
                    texts.append(text)
                continue
        if after_title and element.tag == "p":
            text = _Walker(_ALWAYS_DROP).text_of(element)
            if _squeeze(text) in kept_blocks and _word_count(text) >= LEAD_GAP_WORDS:
                texts.append(text)
    return texts


def _kept_blocks(kept: HtmlElement) -> set[str]:
    """The text of each block trafilatura kept, squeezed."""
    return {_squeeze(" ".join(e.itertext())) for e in kept.iter(*_TRAFILATURA_BLOCKS)}


_TRAFILATURA_BLOCKS = ("p", "item", "cell", "head", "code")
_PAGE_BLOCKS = ("p", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dd", "dt", "blockquote")


def _prefix(element: HtmlElement, size: int = 40) -> str:
    """The first ``size`` characters of an element's squeezed text, reading no more of it than that needs."""
    parts, found = [], 0
    for piece in element.itertext():
        parts.append(piece)
        found += len(_unspaced(piece))
        if found >= 2 * size:
            break
    return _squeeze("".join(parts))[:size]


def _content_root(tree: HtmlElement, kept: HtmlElement) -> HtmlElement | None:
    """The smallest element of the page holding 90% of the text trafilatura kept (its blocks matched on their first
    40 characters): the article's container, with its headings and tables as the page wrote them. Weighed by text,
    not counted, so that a short teaser elsewhere on the page does not stretch the container to the whole page; but
    never an element with less than half as much text as trafilatura kept."""
    samples: dict[str, int] = {}
    for element in kept.iter(*_TRAFILATURA_BLOCKS):
        if len(key := _prefix(element)) >= 20:
            samples.setdefault(key, len(_squeeze(" ".join(element.itertext()))))
    for run in _loose_runs(kept):
        if len(key := _squeeze(run)[:40]) >= 20:
            samples.setdefault(key, len(_squeeze(run)))
    weights: dict[HtmlElement, int] = {}
    for element in tree.iter(*_PAGE_BLOCKS, "figcaption", "div"):
        if (weight := samples.pop(_prefix(element), None)) is not None:
            for holder in (element, *element.iterancestors()):
                weights[holder] = weights.get(holder, 0) + weight
    if not weights:
        weights = _weigh_loose_text(tree, samples)
    total = max(weights.values(), default=0)  # what the root holds
    holders = [element for element, weight in weights.items() if weight >= 0.9 * total]
    root = max(holders, key=lambda e: sum(1 for _ in e.iterancestors()), default=None)
    kept_size = len(_squeeze(" ".join(kept.itertext())))
    while root is not None and root.getparent() is not None and len(_squeeze(root.text_content())) < kept_size / 2:
        root = root.getparent()  # trafilatura ran the page into one block, which began with a menu's text
    return root


LOOSE_RUNS = 3
"""Runs of loose text that must match before a page counts as an article written between ``<br>`` tags."""


def _weigh_loose_text(tree: HtmlElement, samples: dict[str, int]) -> dict[HtmlElement, int]:
    """``_content_root``'s weights when no element begins a block trafilatura kept: an article written as loose
    text between ``<br>`` tags (trafilatura makes each run a paragraph) is matched by its runs of text, each
    weighing on the element that holds it. Fewer than ``LOOSE_RUNS`` runs are no such article (a source listing
    whose one kept block is its licence comment): no weights, and the page is walked plainly."""
    by_start = {key[:20]: key for key in samples}
    weights: dict[HtmlElement, int] = {}
    matched = 0
    for element in tree.iter():
        for piece, holder in ((element.text, element), (element.tail, element.getparent())):
            if holder is None or not piece or len(run := _squeeze(piece)[:40]) < 20:
                continue
            key = by_start.get(run[:20])
            if key is not None and key.startswith(run) and (weight := samples.pop(key, None)) is not None:
                matched += 1
                for each in (holder, *holder.iterancestors()):
                    weights[each] = weights.get(each, 0) + weight
    return weights if matched >= LOOSE_RUNS else {}


_TRAFILATURA_CONTAINERS = ("p", "head", "list", "item", "table", "row", "cell", "quote")


def _is_code_block(element: HtmlElement) -> bool:
    """trafilatura writes inline code and code blocks alike, as ``<code>``: a block has lines."""
    return element.tag == "code" and "\n" in "".join(element.itertext()).strip()


def _loose_runs(kept: HtmlElement) -> list[str]:
    """The text trafilatura kept outside its blocks (a page's paragraph that is a ``<div>`` of loose text and inline
    tags comes out so), one string per run between blocks: a page whose kept text is mostly such runs would
    otherwise have its container found by the one ``<p>`` beside them."""
    runs, current = [], [kept.text or ""]
    for child in kept:
        if child.tag in _TRAFILATURA_CONTAINERS or _is_code_block(child):
            runs.append("".join(current))
            current = []
        else:
            current.extend(child.itertext())
        current.append(child.tail or "")
    runs.append("".join(current))
    return [run for run in runs if run.strip()]


def _shingles(text: str, size: int = 4) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", _norm(text))
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


IN_FLOW_WORDS = 25
"""A paragraph this long that trafilatura dropped, between paragraphs it kept, is kept: trafilatura discards any
element whose class says "sidebar", and DocBook (the Debian Handbook, many manuals) calls its in-text boxes that."""
_WORD = re.compile(r"\w+")
_HAN_OR_KANA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def _in_flow(event: Event) -> bool:
    """Kept between blocks trafilatura kept although it dropped it: a paragraph of ``IN_FLOW_WORDS`` or more, or a
    table of data (trafilatura drops tables set in tables, as LWN sets its statistics), not of links (a wiki's
    navigation box)."""
    if isinstance(event, Block):
        return _word_count(event.text) >= IN_FLOW_WORDS
    if not isinstance(event, Table) or len(event.rows) < 2 or event.element is None:
        return False
    linked = sum(len(_unspaced(link.text_content())) for link in event.element.iter("a"))
    return 2 * linked < len(_unspaced(event.element.text_content()))


def _word_count(text: str) -> int:
    """Words, where Chinese and Japanese, written without spaces, count one per two characters."""
    return len(_WORD.findall(_HAN_OR_KANA.sub(" ", text))) + len(_HAN_OR_KANA.findall(text)) // 2


def _keep_what_trafilatura_kept(events: list[Event], kept: HtmlElement) -> list[Event]:
    """A block stays when trafilatura kept its text (verbatim, or half of its 4-word shingles where renderings
    differ: footnote marks, <sup>), or when it is a paragraph of ``IN_FLOW_WORDS`` or more between blocks it kept; a
    table when a third of its cells are kept, or when it holds data between blocks it kept (``_in_flow``); a heading
    when something is kept after it before the next heading of its level or higher, else as text when it reads as
    text (``_reads_as_text``)."""
    kept_text = _squeeze(" ".join(kept.itertext()))
    kept_blocks = _kept_blocks(kept)
    kept_shingles = _shingles(" ".join(kept.itertext()))

    def is_kept(text: str) -> bool:
        squeezed = _squeeze(text)
        if squeezed in kept_blocks or (len(squeezed) >= 15 and squeezed in kept_text):
            return True
        shingles = _shingles(text)
        return len(shingles) >= 3 and len(shingles & kept_shingles) >= 0.5 * len(shingles)

    def verdict(event: Event) -> bool:
        if isinstance(event, Table):
            cells = [cell for row in event.rows for cell in row if len(cell.strip()) >= 2]
            return bool(cells) and sum(is_kept(cell) or _squeeze(cell) in kept_text for cell in cells) >= len(cells) / 3
        return isinstance(event, Heading) or is_kept(event.text)

    verdicts = [verdict(event) for event in events]
    kept_at = [i for i, event in enumerate(events) if verdicts[i] and isinstance(event, Block)]
    for i, event in enumerate(events):
        if not verdicts[i] and _in_flow(event):
            verdicts[i] = bool(kept_at) and kept_at[0] < i < kept_at[-1]
    if (lead := _lead(events, verdicts, kept_at[0] if kept_at else 0)) is not None:
        verdicts[lead] = True
    content = [event for event, keep in zip(events, verdicts, strict=True) if keep]
    result: list[Event] = []
    content_follows, highest_since = False, 7  # scanning backwards: is something kept ahead, before which heading
    next_content: Event | None = None
    texts: dict[HtmlElement, str] = {}
    pulled = False  # the content ahead is a heading read as text (one of several pull quotes in a row)
    for event in reversed(content):
        if not isinstance(event, Heading):
            content_follows, highest_since, next_content, pulled = True, 7, event, False
            result.append(event)
            continue
        as_text = _reads_as_text(event, is_kept)
        heads_a_section = content_follows and highest_since > event.level and not (pulled and as_text)
        if heads_a_section and _heads(event, next_content, texts):
            result.append(event)
        elif heads_a_section and _is_bold_paragraph(event):
            result.append(Block(event.text))  # a bold paragraph read as a heading: its text is content
        elif as_text:
            block = Block(event.text)
            content_follows, highest_since, next_content, pulled = True, 7, block, True
            result.append(block)
            continue
        highest_since = min(highest_since, event.level)
    return result[::-1]


def _reads_as_text(heading: Heading, is_kept: Callable[[str], bool]) -> bool:
    """A heading that heads nothing is still text when trafilatura kept it, it links nowhere (a list of teasers'
    headlines does) and it is a bold paragraph (a closing line, "Be there or be square!") or a sentence (a
    standfirst or a pull quote set as a heading)."""
    if heading.element is None or next(heading.element.iter("a"), None) is not None or not is_kept(heading.text):
        return False
    return _is_bold_paragraph(heading) or _word_count(heading.text) >= LEAD_GAP_WORDS


def _is_bold_paragraph(heading: Heading) -> bool:
    """A paragraph that is one short bold run, which the walk reads as a heading (``_Walker._is_pseudo_heading``)."""
    return heading.element is not None and heading.element.tag == "p"


HEADING_DECORATION = 40
"""Characters beside a heading that still belong to it (an "[edit]" link, a reading time, a date): its box is the
first element around it with more text than this besides the heading."""


def _heads(heading: Heading, content: Event | None, texts: dict[HtmlElement, str]) -> bool:
    """Whether the content kept after a heading lies in the heading's own box: a box of related links or of
    "story tools" has its heading and nothing trafilatura kept, and its heading must not open a section over the
    article that follows the box (Yahoo's "Related Content" over a whole story). ``texts`` caches elements' text
    without white space (headings of one page share their boxes)."""
    if heading.element is None or content is None:
        return True

    def text(element: HtmlElement) -> str:
        if element not in texts:
            texts[element] = _unspaced(element.text_content())
        return texts[element]

    own = len(_unspaced(heading.text)) + HEADING_DECORATION
    box = next((a for a in heading.element.iterancestors() if len(text(a)) > own), None)
    if box is None:
        return True
    first = content.text if not isinstance(content, Table) else next((c for row in content.rows for c in row), "")
    return _unspaced(first)[:40] in text(box)


LEAD_GAP_WORDS = 12
"""Between an article's lead and its first kept paragraph, only headings and blocks shorter than this (a photo
credit, an advertisement's label) may stand."""


def _lead(events: list[Event], verdicts: list[bool], first_kept: int) -> int | None:
    """The article's lead, when trafilatura dropped it: the last paragraph of ``IN_FLOW_WORDS`` or more before the
    first block it kept, with nothing longer than a caption between. Pages set it apart from the body (Yahoo's wire
    lead as loose text after a box of related links; a latex2html page's first paragraph after its navigation
    panel), and trafilatura, reading the body, loses the one paragraph that says what the page is about."""
    for i in range(first_kept - 1, -1, -1):
        event = events[i]
        if isinstance(event, Heading) or verdicts[i]:
            continue
        if isinstance(event, Table):
            return None
        words = _word_count(event.text)
        if words >= IN_FLOW_WORDS:
            return i
        if words >= LEAD_GAP_WORDS:
            return None
    return None


def _plain_walk(tree: HtmlElement) -> list[Event]:
    """Without trafilatura's verdict: <main> (else <body>) minus navigation, banners, forms and sidebars."""
    root = next(tree.iter("main"), None)
    if root is None:
        root = next(tree.iter("body"), tree)
    return _Walker(_PLAIN_DROP, keep_article_headers=True).run(root)


def _render(events: list[Event], title: str | None, builder: TextBuilder) -> None:
    """Events into the builder; the article title opens the document as its level-1 heading when the events lack
    it, so section paths read "Title > Section > Subsection"."""
    if events and title and _norm(title) not in {_norm(e.text) for e in events if isinstance(e, Heading)}:
        events = [Heading(1, title), *events]
    for event in events:
        if builder.full:
            return
        if isinstance(event, Heading):
            builder.heading(event.level, event.text)
        elif isinstance(event, Table):
            builder.table(event.rows)
        else:
            builder.block(f"{event.marker} {event.text}" if event.marker else event.text)


_HEADING = re.compile(r"h([1-6])")
_BLOCK_TAGS = frozenset(
    "p div li ul ol dl dd dt section article main header aside nav footer blockquote figure figcaption caption "
    "address summary details dialog search form fieldset legend center hgroup menu hr body html table tr td th "
    "thead tbody tfoot".split()
)
_SPACED = _BLOCK_TAGS | {"h1", "h2", "h3", "h4", "h5", "h6", "pre"}
"""Elements that separate words when their text is read on one line (a heading's or a cell's)."""
_ALWAYS_DROP = frozenset(
    "script style noscript template head title meta link svg iframe object embed canvas video audio button select "
    "input textarea".split()
)
_GUIDED_DROP = _ALWAYS_DROP | {"nav", "aside", "footer", "form"}
_PLAIN_DROP = _GUIDED_DROP | {"header"}
_LIST_TYPES = {"1": "decimal", "a": "lowerLetter", "A": "upperLetter", "i": "lowerRoman", "I": "upperRoman"}
"""An ordered list's ``type`` and the numbering it names."""
_NO_MARKER = re.compile(r"list-style(?:-type)?\s*:\s*none", re.IGNORECASE)
_BR = "\x00"
"""A <br> in the inline buffer: the parser turns NUL in a page into U+FFFD, so page text never holds it."""


def _tag(element: HtmlElement) -> str:
    """The lowercase tag name; "" for comments and processing instructions."""
    return element.tag.lower() if isinstance(element.tag, str) else ""


class _Walker:
    """Headings (with level), blocks (``<br>`` and ``<pre>`` line breaks kept) and tables (rows of cells) of a
    subtree, in document order; an ordered list's item after the number a browser shows for it. Inline tags add no
    spaces: "<a>Netscape</a>." stays "Netscape.". A paragraph that is one short bold run opens a section one level
    below the last heading (blogs write sub-headings that way). Depth-first with an explicit stack: a page nested
    thousands deep costs memory, never Python's recursion limit."""

    def __init__(self, drop: frozenset[str], *, keep_article_headers: bool = False) -> None:
        self.drop = drop
        self.keep_article_headers = keep_article_headers
        self.events: list[Event] = []
        self.buffer: list[str] = []
        self.level = 1
        self.marker = ""
        """The number of the list item being read, for the first block of its text."""
        self.counts: dict[HtmlElement, int] = {}
        """Each ordered list's number so far."""

    def run(self, root: HtmlElement) -> list[Event]:
        if self._enter(root, is_root=True):
            stack = [(root, iter(root))]
            while stack:
                parent, children = stack[-1]
                child = next(children, None)
                if child is None:
                    stack.pop()
                    if _tag(parent) in _BLOCK_TAGS:
                        self._flush()
                    if _tag(parent) == "li":
                        self.marker = ""
                    if stack:
                        self.buffer.append(parent.tail or "")
                elif self._enter(child):
                    stack.append((child, iter(child)))
                else:
                    self.buffer.append(child.tail or "")
        self._flush()
        return self.events

    def _dropped(self, element: HtmlElement, tag: str) -> bool:
        if tag == "header" and self.keep_article_headers:  # an article's own header holds its title
            return not any(_tag(a) in {"article", "main"} for a in element.iterancestors())
        return not tag or tag in self.drop

    def _enter(self, element: HtmlElement, *, is_root: bool = False) -> bool:
        """Handle an element as it starts; True when its children are to be walked."""
        tag = _tag(element)
        if not is_root and self._dropped(element, tag):
            return False
        if match := _HEADING.fullmatch(tag):
            self.level = int(match.group(1))
            self._emit(Heading(self.level, self.text_of(element), element))
        elif tag == "table" and not self._is_layout_table(element):
            self._table(element)
        elif tag == "pre":
            self._emit(Block(self.text_of(element, line_break="\n", separator="").strip("\n")))
        elif tag == "br":
            self.buffer.append(_BR)
        elif tag == "p" and self._is_pseudo_heading(element):
            self._emit(Heading(min(6, self.level + 1), self.text_of(element), element))
        else:
            if tag in _BLOCK_TAGS:
                self._flush()
            if tag == "li":
                self.marker = self._list_marker(element)
            self.buffer.append(element.text or "")
            return True
        return False

    def _list_marker(self, item: HtmlElement) -> str:
        """The number a browser shows before ``item`` when it is an item of an ordered list, counted as browsers
        count (``start``, ``reversed``, an item's ``value``, ``type``); "" otherwise."""
        parent = item.getparent()
        if parent is None or _tag(parent) != "ol" or _NO_MARKER.search(parent.get("style", "")):
            return ""
        step = -1 if parent.get("reversed") is not None else 1
        if (value := integer(item.get("value"))) is not None:
            number = value
        elif parent in self.counts:
            number = self.counts[parent] + step
        else:
            first = integer(parent.get("start"))
            number = first if first is not None else (1 if step > 0 else sum(_tag(c) == "li" for c in parent))
        self.counts[parent] = number
        style = _LIST_TYPES.get(item.get("type") or parent.get("type") or "1", "decimal")
        return f"{format_number(number, style)}."

    def _emit(self, event: Event) -> None:
        self._flush()
        if event.rows if isinstance(event, Table) else event.text.strip():
            self.events.append(event._replace(marker=self.marker) if isinstance(event, Block) else event)
            self.marker = ""

    def _flush(self) -> None:
        lines = (" ".join(line.split()) for line in "".join(self.buffer).split(_BR))
        self.buffer.clear()
        if text := "\n".join(line for line in lines if line):
            self.events.append(Block(text, self.marker))
            self.marker = ""

    def _table(self, table: HtmlElement) -> None:
        """Caption as a block, then the rows of this table (not of tables nested in its cells) as cell texts."""
        for child in table:
            if _tag(child) == "caption":
                self._emit(Block(self.text_of(child)))
        rows, stack = [], list(table)[::-1]
        while stack:
            node = stack.pop()
            if _tag(node) == "tr":
                rows.append([self.text_of(cell) for cell in node if _tag(cell) in {"td", "th"}])
            elif _tag(node) in {"thead", "tbody", "tfoot"}:
                stack.extend(list(node)[::-1])
        rows = [row for row in rows if any(row)]
        if rows:
            self._emit(Table(rows, table))

    @staticmethod
    def _is_layout_table(table: HtmlElement) -> bool:
        """A table used to lay out a page (holding headings or tables) is walked as blocks, not flattened to rows."""
        return any(e is not table for e in table.iter("table", "h1", "h2", "h3", "h4", "h5", "h6"))

    def _is_pseudo_heading(self, paragraph: HtmlElement) -> bool:
        children = [child for child in paragraph if _tag(child)]
        if len(children) != 1 or _tag(children[0]) not in {"b", "strong"}:
            return False
        if (paragraph.text or "").strip() or (children[0].tail or "").strip():
            return False
        text = self.text_of(paragraph)
        return 0 < len(text) <= 100 and not text.endswith((".", ":", ","))

    def text_of(self, element: HtmlElement, *, line_break: str = " ", separator: str = " ") -> str:
        """The text of an element as one run: ``<br>`` becomes ``line_break``, nested blocks are set apart by
        ``separator``, dropped elements are skipped (their tails kept). One line (white space collapsed) unless
        ``line_break`` is a newline, in which case the text is returned as the page wrote it (``<pre>``)."""
        parts = [element.text or ""]
        stack = [(element, iter(element))]
        while stack:
            parent, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if stack:
                    parts.extend((separator if _tag(parent) in _SPACED else "", parent.tail or ""))
                continue
            tag = _tag(child)
            if tag == "br" or self._dropped(child, tag):
                parts.extend((line_break if tag == "br" else "", child.tail or ""))
            else:
                parts.extend((separator if tag in _SPACED else "", child.text or ""))
                stack.append((child, iter(child)))
        text = "".join(parts)
        return text if line_break == "\n" else " ".join(text.split())
