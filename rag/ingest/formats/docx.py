"""DOCX: paragraphs, headings and tables in body order, with the zip checked for bombs before anything inflates.

The body XML is walked directly rather than through python-docx's ``Paragraph.text`` and ``cell.text``: those read
only ``w:r``/``w:hyperlink`` children, so they lose text boxes, content controls (``w:sdt``), smart tags, tracked
insertions, symbol characters and form checkboxes, and ``row.cells`` repeats a merged cell once per grid column.
The walk uses explicit stacks, so nested tables and text boxes cost no recursion.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote

from lxml import etree

from rag.ingest.formats.docx_numbering import ListNumbering, W, is_on, roman, style_list
from rag.ingest.formats.textbuilder import TextBuilder, UnreadableError
from rag.ingest.reading import LoadLimits, megabytes, shorten

W14 = "{http://schemas.microsoft.com/office/word/2010/wordml}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
MATH_T = "{http://schemas.openxmlformats.org/officeDocument/2006/math}t"
DIAGRAM = "{http://schemas.openxmlformats.org/drawingml/2006/diagram}"
DRAWING = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
RELATIONSHIP_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"

UNKNOWN = "\ufffd"
"""Stands for a symbol-font character with no known Unicode equivalent: visible, and never a private-use code."""
CHECKED, UNCHECKED = "☒", "☐"
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U0010ffff]")


def _font_table(first: int, chars: str) -> dict[int, str]:
    return {first + i: c for i, c in enumerate(chars) if c != "\0"}


# Symbol-encoded fonts address glyphs by byte (Word stores them as U+F000 + byte); these map the byte to Unicode.
_SYMBOL = _font_table(
    0x20,
    " !∀#∃%&∋()∗+,−./0123456789:;<=>?≅ΑΒΧΔΕΦΓΗΙϑΚΛΜΝΟΠΘΡΣΤΥςΩΞΨΖ[∴]⊥_‾αβχδεφγηιϕκλμνοπθρστυϖωξψζ{|}∼",
) | _font_table(
    0xA0,
    "€ϒ′≤⁄∞ƒ♣♦♥♠↔←↑→↓°±″≥×∝∂•÷≠≡≈…⏐⎯↵ℵℑℜ℘⊗⊕∅∩∪⊃⊇⊄⊂⊆∈∉∠∇®©™∏√⋅¬∧∨⇔⇐⇑⇒⇓◊⟨®©™∑⎛⎜⎝⎡⎢⎣⎧⎨⎩⎪\0⟩∫⌠⎮⌡⎞⎟⎠⎤⎥⎦⎫⎬⎭",
)
_WINGDINGS = {
    0x28: "☎", 0x2A: "✉", 0x4A: "☺", 0x4C: "☹", 0x6C: "●", 0x6E: "■", 0x6F: "□", 0x71: "❑", 0x72: "❒", 0x75: "◆",
    0x76: "❖", 0x77: "⬥", 0x78: "⌧", 0xA1: "○", 0xA7: "▪", 0xA8: UNCHECKED, 0xD8: "➢", 0xE0: "→", 0xF0: "⇨",
    0xFB: "✗", 0xFC: "✓", 0xFD: CHECKED, 0xFE: "☑",
}  # fmt: skip
_WINGDINGS_2 = {0x4F: "✗", 0x50: "✓", 0x52: "☑", 0x53: CHECKED, 0x54: CHECKED, 0xA3: UNCHECKED}
_SYMBOL_FONTS = {"symbol": _SYMBOL, "wingdings": _WINGDINGS, "wingdings 2": _WINGDINGS_2}

_SKIP_INLINE = {W + t for t in ("pPr", "rPr", "del", "moveFrom", "instrText", "delText", "sdtPr", "sdtEndPr")}
_SKIP_INLINE |= {MC + "Fallback"}
_NOTE_REFERENCES = {W + "footnoteReference": "footnote", W + "endnoteReference": "endnote"}
_TRANSPARENT_BLOCKS = {W + t for t in ("sdtContent", "customXml", "ins", "moveTo", "txbxContent", "smartTag")}


class _Event(NamedTuple):
    """One step of the body walk: a paragraph (``"p"``, its text, its heading level or 0, the footnotes and endnotes
    it refers to) or the start of a table, row or cell (``"tbl"``, ``"tr"``, ``"tc"``) or the end of a table
    (``"/tbl"``)."""

    kind: str
    text: str = ""
    level: int = 0
    notes: tuple[tuple[str, str], ...] = ()
    """``("footnote" | "endnote", w:id)`` of each note referenced, in order."""


def extract_docx(data: bytes, builder: TextBuilder, limits: LoadLimits) -> str | None:
    """Paragraphs (with their text boxes), headings and tables, in body order, each footnote and endnote as a
    paragraph of its own after the paragraph (or table) that refers to it; returns the document's title."""
    import docx

    _check_inflation(data, limits)
    try:
        document = docx.Document(io.BytesIO(_readable_package(data)))
    except Exception as exc:  # python-docx raises zip, XML or package errors for anything that is not DOCX
        raise UnreadableError(f"not a readable DOCX ({type(exc).__name__}: {shorten(str(exc))})") from None
    open_tables: list[list[list[list[str]]]] = []  # tables being read, innermost last: rows of cells of lines
    styles = _Styles.read(document.styles.element)
    notes = _Notes.read(document)
    numbering = ListNumbering.read(_numbering_part(document), styles.lists, styles.list_styles, styles.default)
    pending: list[tuple[str, str]] = []  # notes referred to in a table, added after it
    for event in _walk(document.element.body, styles, numbering):
        if builder.full:
            break
        pending.extend(event.notes)
        if event.kind == "tbl":
            open_tables.append([])
        elif event.kind == "tr":
            if open_tables:  # a row or cell outside any table (malformed) is read as plain paragraphs
                open_tables[-1].append([])
        elif event.kind == "tc":
            if open_tables:
                _row(open_tables).append([])
        elif event.kind == "/tbl":
            rows = [["\n".join(lines) for lines in row] for row in open_tables.pop()]
            if open_tables:  # a nested table becomes one line per row inside the enclosing cell
                _cell(open_tables).extend("; ".join(" ".join(c.split()) for c in row if c.strip()) for row in rows)
            else:
                builder.table(_split_parallel_lines(rows))
        elif open_tables:
            _cell(open_tables).append(event.text)  # headings inside table cells stay plain text
        elif event.level:
            builder.heading(event.level, event.text)
        else:
            builder.block(event.text)
        if not open_tables:
            for note in pending:
                builder.block(notes.labelled(note))
            pending.clear()
    return _document_title(document, styles)


def _numbering_part(document: Any) -> etree._Element | None:
    """The numbering definitions part's root, or None when the file has none (or a damaged one: its lists then
    go unnumbered, the document is read)."""
    from docx.opc.constants import RELATIONSHIP_TYPE

    for rel in document.part.rels.values():
        if rel.reltype == RELATIONSHIP_TYPE.NUMBERING and not rel.is_external:
            try:
                return etree.fromstring(rel.target_part.blob, etree.XMLParser(resolve_entities=False, no_network=True))
            except etree.XMLSyntaxError:
                return None
    return None


def _document_title(document: Any, styles: _Styles) -> str | None:
    """The title in the file's core properties, else the text of its first paragraph styled Title (what Word shows
    as the title). A file without a core-properties part has no stored title: python-docx would make one up
    ("Word Document"), so the part is looked for before it is read."""
    from docx.opc.constants import RELATIONSHIP_TYPE

    package = document.part.package
    if any(rel.reltype == RELATIONSHIP_TYPE.CORE_PROPERTIES for rel in package.rels.values()):
        stored = " ".join((document.core_properties.title or "").split())
        if stored:
            return _PRIVATE_USE.sub(UNKNOWN, stored)
    for paragraph in document.element.body.iter(W + "p"):  # in content controls and text boxes too (cover pages)
        if _style_of(paragraph) in styles.titles:
            if text := " ".join(_paragraph(paragraph)[0].split()):
                return text
    return None


@dataclass
class _Notes:
    """The footnotes and endnotes parts' texts by ``(kind, w:id)``, and each note's number in the order the body
    first refers to it: footnotes 1, 2, 3 and endnotes i, ii, iii, as Word numbers them by default. SmartArt
    graphics are notes too (``("diagram", relationship id)``): their text, one line per shape, is read from their
    data part and given after the paragraph that holds them, unnumbered."""

    texts: dict[tuple[str, str], str]
    given: set[tuple[str, str]] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, document: Any) -> _Notes:
        from docx.opc.constants import RELATIONSHIP_TYPE

        texts: dict[tuple[str, str], str] = {}
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        for kind, reltype in (("footnote", RELATIONSHIP_TYPE.FOOTNOTES), ("endnote", RELATIONSHIP_TYPE.ENDNOTES)):
            for rel in document.part.rels.values():
                if rel.reltype != reltype or rel.is_external:
                    continue
                try:
                    root = etree.fromstring(rel.target_part.blob, parser)
                except etree.XMLSyntaxError:
                    continue  # a damaged notes part loses the notes, not the document
                for note in root.iterchildren(W + kind):
                    if note.get(W + "type") in ("separator", "continuationSeparator", "continuationNotice"):
                        continue
                    lines = [" ".join(_paragraph(p)[0].split()) for p in note.iter(W + "p")]
                    texts[(kind, note.get(W + "id", ""))] = "\n".join(line for line in lines if line)
        for rel_id, rel in document.part.rels.items():
            if rel.reltype == RELATIONSHIP_TYPE.DIAGRAM_DATA and not rel.is_external:
                try:
                    texts[("diagram", rel_id)] = _diagram_text(etree.fromstring(rel.target_part.blob, parser))
                except etree.XMLSyntaxError:
                    continue  # a damaged diagram loses its text, not the document
        return cls(texts)

    def labelled(self, note: tuple[str, str]) -> str:
        """The note's text after its number in brackets (``[2]``, ``[iv]``); empty for an unknown or empty note, or
        one already given."""
        text = self.texts.get(note)
        if not text or note in self.given:
            return ""
        self.given.add(note)
        kind = note[0]
        if kind == "diagram":
            return text
        number = self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"[{number if kind == 'footnote' else roman(number)}] {text}"


def _diagram_text(data: etree._Element) -> str:
    """A SmartArt data model's text: each shape's (``dgm:pt`` of type node, the default) paragraphs, one line each,
    in the model's order; connectors and layout points carry none."""
    lines = []
    for point in data.iter(DIAGRAM + "pt"):
        if point.get("type", "node") != "node" or (body := point.find(DIAGRAM + "t")) is None:
            continue
        for paragraph in body.iter(DRAWING + "p"):
            if line := " ".join("".join(t.text or "" for t in paragraph.iter(DRAWING + "t")).split()):
                lines.append(_PRIVATE_USE.sub(UNKNOWN, line))
    return "\n".join(lines)


def _walk(body: etree._Element, styles: _Styles, numbering: ListNumbering) -> Iterator[_Event]:
    """Block-level content in reading order, each numbered paragraph after the number Word shows for it
    (``numbering``). A paragraph's text boxes come just before it (it anchors them, and a header box anchored in
    the first heading then stays out of that heading's section); text-box paragraphs are never headings.
    Vertically merged continuation cells come out empty, so a merged cell's text appears once. A table of contents
    Word generated is left out: its lines repeat the headings, with page numbers."""
    stack: list[tuple[etree._Element, bool] | _Event] = [(child, False) for child in reversed(body)]
    while stack:
        item = stack.pop()
        if isinstance(item, _Event):
            yield item
            continue
        element, in_box = item
        tag = element.tag
        children: etree._Element | None = element
        if tag == W + "p":
            style = _style_of(element)
            if style in styles.contents:
                continue
            text, boxes, notes = _paragraph(element)
            text = numbering.label(element, style) + text
            level = 0 if in_box else _paragraph_level(element, styles.levels, styles.default)
            stack.append(_Event("p", text, level, tuple(notes)))
            stack.extend((child, True) for box in reversed(boxes) for child in reversed(box))
            continue
        if tag == W + "tbl":
            yield _Event("tbl")
            stack.append(_Event("/tbl"))
        elif tag == W + "tr":
            yield _Event("tr")
        elif tag == W + "tc":
            yield _Event("tc")
            merge = element.find(f"{W}tcPr/{W}vMerge")
            if merge is not None and merge.get(W + "val", "continue") != "restart":
                continue  # continues the merged cell above: its text is there
        elif tag == W + "sdt":
            gallery = element.find(f"{W}sdtPr/{W}docPartObj/{W}docPartGallery")
            if gallery is not None and gallery.get(W + "val") == "Table of Contents":
                continue
            children = element.find(W + "sdtContent")
        elif tag == MC + "AlternateContent":
            children = element.find(MC + "Choice")
            children = children if children is not None else element.find(MC + "Fallback")
        elif tag not in _TRANSPARENT_BLOCKS:
            continue  # sectPr, tblPr, bookmarks, deletions: no text
        if children is not None:
            stack.extend((child, in_box) for child in reversed(children))


def _paragraph(paragraph: etree._Element) -> tuple[str, list[etree._Element], list[tuple[str, str]]]:
    """A paragraph's text and its text boxes (``w:txbxContent``, read once: ``mc:Choice`` is taken, its VML
    ``mc:Fallback`` copy skipped). Runs inside hyperlinks, smart tags, content controls, fields and tracked
    insertions count; deletions and field instructions do not. Breaks are newlines, tabs are tabs. Also returns the
    footnotes, endnotes and SmartArt graphics the paragraph refers to."""
    parts: list[str] = []
    boxes: list[etree._Element] = []
    notes: list[tuple[str, str]] = []
    stack = list(reversed(paragraph))
    while stack:
        element = stack.pop()
        tag = element.tag
        if not isinstance(tag, str) or tag in _SKIP_INLINE:
            continue
        if tag in (W + "t", MATH_T):
            parts.append(_run_text(element))
        elif tag in (W + "tab", W + "ptab"):
            parts.append("\t")
        elif tag in (W + "br", W + "cr"):
            parts.append("\n")
        elif tag == W + "noBreakHyphen":
            parts.append("-")
        elif tag == W + "sym":
            parts.append(_symbol(element.get(W + "font"), element.get(W + "char")))
        elif tag == W + "fldChar":
            box = element.find(f"{W}ffData/{W}checkBox")
            if box is not None:  # a legacy FORMCHECKBOX field: its state, not its (empty) result
                state = box.find(W + "checked")
                parts.append(CHECKED if is_on(state if state is not None else box.find(W + "default")) else UNCHECKED)
        elif tag == W + "txbxContent":
            boxes.append(element)
        elif tag in _NOTE_REFERENCES:
            notes.append((_NOTE_REFERENCES[tag], element.get(W + "id", "")))
        elif tag == DIAGRAM + "relIds":  # a SmartArt graphic: its text is in the diagram data part
            notes.append(("diagram", element.get(RELATIONSHIP_ID + "dm", "")))
        elif tag == MC + "AlternateContent":
            stack.extend(element.findall(MC + "Choice")[:1] or element.findall(MC + "Fallback"))
        elif tag == W + "sdt" and (box := element.find(f"{W}sdtPr/{W14}checkbox")) is not None:
            parts.append(CHECKED if is_on(box.find(W14 + "checked"), W14) else UNCHECKED)
        else:
            stack.extend(reversed(element))
    return _PRIVATE_USE.sub(UNKNOWN, "".join(parts)), boxes, notes


def _run_text(t: etree._Element) -> str:
    """A ``w:t``'s text; in a run set in a symbol font, its characters as the font draws them."""
    text = t.text or ""
    fonts = t.getparent().find(f"{W}rPr/{W}rFonts") if t.getparent() is not None else None
    font = next((f for f in (fonts.get(W + "ascii"), fonts.get(W + "hAnsi")) if f), None) if fonts is not None else None
    if font is None or font.lower() not in _SYMBOL_FONTS:
        return text
    return "".join(_symbol(font, f"{ord(c):X}") if ord(c) < 0x100 or 0xF000 <= ord(c) <= 0xF0FF else c for c in text)


def _symbol(font: str | None, char: str | None) -> str:
    """A ``w:sym`` (or a symbol-font character): its Unicode equivalent, else the character itself if it is a real
    one, else ``UNKNOWN`` (never a private-use code)."""
    try:
        code = int(char or "", 16)
    except ValueError:
        return UNKNOWN
    table = _SYMBOL_FONTS.get((font or "").lower())
    if table is not None and (mapped := table.get(code - 0xF000 if code >= 0xF000 else code)):
        return mapped
    if table is None and 0x20 <= code < 0x110000 and not _PRIVATE_USE.match(chr(code)) and chr(code).isprintable():
        return chr(code)
    return UNKNOWN


def _row(tables: list[list[list[list[str]]]]) -> list[list[str]]:
    if not tables[-1]:
        tables[-1].append([])
    return tables[-1][-1]


def _cell(tables: list[list[list[list[str]]]]) -> list[str]:
    row = _row(tables)
    if not row:
        row.append([])
    return row[-1]


_PARALLEL_LINE_CHARS = 80


def _split_parallel_lines(rows: list[list[str]]) -> list[list[str]]:
    """Rows whose cells hold parallel short lines (a label column beside value columns, one value per line or
    ``w:br``) become one row per line, as they read on the page: ``Net Cash Income | 21,855 | 22,754`` rather
    than one row of run-together numbers. Rows of prose paragraphs are left whole."""
    result: list[list[str]] = []
    for row in rows:
        cells = [cell.split("\n") for cell in row]
        if sum(len(lines) > 1 for lines in cells) < 2 or any(len(x) > _PARALLEL_LINE_CHARS for c in cells for x in c):
            result.append(row)
            continue
        height = max(len(lines) for lines in cells)
        result.extend([lines[i] if i < len(lines) else "" for lines in cells] for i in range(height))
    return result


@dataclass(frozen=True)
class _Styles:
    """What the paragraph styles say: each style id's heading level, the default paragraph style's id, the ids
    of styles that are (or are based on) the built-in Title, and those of a table of contents' lines and heading
    (built-in ``toc 1``-``toc 9``, ``TOC Heading``)."""

    levels: dict[str, int]
    default: str
    titles: frozenset[str]
    contents: frozenset[str]
    lists: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    """Paragraph style id to the list (``w:numId``) and level that number its paragraphs (Word's numbered
    headings), the nearest base style's when the style names none."""
    list_styles: dict[str, str] = field(default_factory=dict)
    """Numbering style id to its list's ``w:numId``."""

    @classmethod
    def read(cls, styles: etree._Element) -> _Styles:
        """A style's heading level is its outline level (``w:outlineLvl``, which Word sets on headings whatever the
        language of their names) or else its built-in name's (``Title`` is 1, ``heading N`` is N), else its base
        style's."""
        own: dict[str, int | None] = {}
        based_on: dict[str, str] = {}
        named_title: set[str] = set()
        contents: set[str] = set()
        own_lists: dict[str, tuple[str, int | None]] = {}
        list_styles: dict[str, str] = {}
        default = ""
        for style in styles.iterchildren(W + "style"):
            if not (style_id := style.get(W + "styleId")):
                continue
            named_list = style_list(style)
            if style.get(W + "type") == "numbering" and named_list and named_list[0]:
                list_styles[style_id] = named_list[0]
            if style.get(W + "type") != "paragraph":
                continue
            if named_list and named_list[0]:
                own_lists[style_id] = (named_list[0], named_list[1])
            outline = style.find(f"{W}pPr/{W}outlineLvl")
            name = style.find(W + "name")
            name = name.get(W + "val", "") if name is not None else ""
            own[style_id] = _outline_level(outline) if outline is not None else _name_level(name)
            if name.lower() == "title":
                named_title.add(style_id)
            if re.fullmatch(r"toc [1-9]|toc heading", name.lower()):
                contents.add(style_id)
            if (base := style.find(W + "basedOn")) is not None:
                based_on[style_id] = base.get(W + "val", "")
            if style.get(W + "default") in ("1", "true", "on"):
                default = style_id
        levels = {style_id: own.get(_first_base(style_id, based_on, lambda s: own.get(s) is not None)) or 0
                  for style_id in own}  # fmt: skip
        titles = frozenset(s for s in own if _first_base(s, based_on, named_title.__contains__) in named_title)
        lists = {
            s: own_lists[base] for s in own if (base := _first_base(s, based_on, own_lists.__contains__)) in own_lists
        }
        return cls(levels, default, titles, frozenset(contents), lists, list_styles)


def _first_base(style_id: str, based_on: dict[str, str], wanted: Callable[[str], bool]) -> str:
    """The style itself if ``wanted``, else the nearest style it is based on that is (the last one reached if
    none is; a loop of ``basedOn`` ends the search)."""
    seen, current = set(), style_id
    while not wanted(current) and current in based_on and current not in seen:
        seen.add(current)
        current = based_on[current]
    return current


def _style_of(paragraph: etree._Element) -> str | None:
    """The paragraph's style id; None when it has none (the default style applies)."""
    style = paragraph.find(f"{W}pPr/{W}pStyle")
    return style.get(W + "val", "") if style is not None else None


def _paragraph_level(paragraph: etree._Element, levels: dict[str, int], default_style: str) -> int:
    """The paragraph's own outline level if it sets one, else its style's heading level (0: not a heading)."""
    outline = paragraph.find(f"{W}pPr/{W}outlineLvl")
    if outline is not None:
        return _outline_level(outline)
    style = _style_of(paragraph)
    return levels.get(style if style is not None else default_style, 0)


def _outline_level(outline: etree._Element) -> int:
    """``w:outlineLvl`` 0-8 is heading level 1-9; 9 (body text) or anything else is no heading."""
    value = outline.get(W + "val", "")
    return int(value) + 1 if value.isdigit() and int(value) < 9 else 0


def _name_level(name: str) -> int | None:
    """Level from a built-in style name as stored in the XML (``Title``, ``heading 2``; python-docx shows the latter
    as ``Heading 2``); None when the name says nothing, so the base style decides."""
    name = name.lower()
    if name == "title":
        return 1
    match = re.fullmatch(r"heading ([1-9])", name)
    return int(match.group(1)) if match else None


_STRICT_NAMESPACE = re.compile(rb"http://purl\.oclc\.org/ooxml/(wordprocessingml|officeDocument|drawingml)/")
"""The namespaces of ISO 29500 Strict (Word's "Strict Open XML Document"), where Transitional, which python-docx
reads, has ``http://schemas.openxmlformats.org/<part>/2006/``."""


def _readable_package(data: bytes) -> bytes:
    """The package python-docx can open, rewritten only where it could not (part by part and uncompressed; sizes were
    checked before: ``_check_inflation``): a Strict package's namespaces and relationship types renamed to the
    Transitional ones (python-docx finds no document in it at all: "no relationship of type officeDocument"), and
    relationships to parts the file does not hold left out (a picture lost by the tool that wrote the file made
    python-docx refuse the whole document: "There is no item named 'word/media/image1.gif'"). Any other package is
    returned as it is."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        try:
            relationships = {name: archive.read(name) for name in names if name.endswith(".rels")}
        except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError, RuntimeError):
            return data  # python-docx says what is wrong with it
        strict = _STRICT_NAMESPACE.search(relationships.get("_rels/.rels", b"")) is not None
        mended = {name: kept for name, xml in relationships.items() if (kept := _without_missing(name, xml, names))}
        if not strict and not mended:
            return data
        rewritten = io.BytesIO()
        with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_STORED) as readable:
            for part in archive.infolist():
                content = mended.get(part.filename) or archive.read(part)
                if strict and part.filename.endswith((".xml", ".rels")):
                    content = _STRICT_NAMESPACE.sub(rb"http://schemas.openxmlformats.org/\1/2006/", content)
                readable.writestr(part.filename, content)
    return rewritten.getvalue()


def _without_missing(rels_name: str, xml: bytes, names: set[str]) -> bytes | None:
    """A relationships part without the relationships whose target part is not in the package (``names``), or None
    when every target is there (or the part cannot be parsed: python-docx then says why)."""
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    source_folder = posixpath.dirname(posixpath.dirname(rels_name))  # word/_rels/document.xml.rels: word
    missing = []
    for relationship in root:
        target = relationship.get("Target", "")
        if relationship.get("TargetMode") == "External" or not target:
            continue
        part = target.lstrip("/") if target.startswith("/") else posixpath.join(source_folder, target)
        if not {posixpath.normpath(part), posixpath.normpath(unquote(part))} & names:
            missing.append(relationship)
    for relationship in missing:
        root.remove(relationship)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True) if missing else None


_BOMB_PART_BYTES = 1 << 20
"""Parts smaller than this inflate to too little to matter, whatever their ratio."""


def _check_inflation(data: bytes, limits: LoadLimits) -> None:
    """Refuse a DOCX whose parts would inflate past ``max_decompressed_bytes`` in all, or one of whose large parts
    inflates more than ``max_compression_ratio`` times, before anything is decompressed. The sizes come from the
    zip directory; Python's zipfile never inflates a part past its declared size, so a lying header gains nothing."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise UnreadableError(f"not a readable DOCX ({type(exc).__name__}: {shorten(str(exc))})") from None
    total = sum(part.file_size for part in parts)
    if total > limits.max_decompressed_bytes:
        raise UnreadableError(
            f"its parts would inflate to {megabytes(total)}; the limit is {megabytes(limits.max_decompressed_bytes)} "
            "(RAG_MAX_DECOMPRESSED_BYTES)"
        )
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _BOMB_PART_BYTES and ratio > limits.max_compression_ratio:
            raise UnreadableError(
                f"part {part.filename} would inflate {ratio:,.0f} times ({part.compress_size:,} to {part.file_size:,} "
                f"bytes; the limit is {limits.max_compression_ratio:,.0f}, RAG_MAX_COMPRESSION_RATIO): a zip bomb?"
            )
