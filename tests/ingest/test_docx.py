"""DOCX text that python-docx's ``Paragraph.text`` misses: text boxes (DrawingML with a VML fallback), symbol-font
characters, form checkboxes, breaks in table cells, merged and nested cells, content controls, headings by outline
level. Fixtures are made here with python-docx, raw WordprocessingML injected where it has no API."""

from __future__ import annotations

import inspect
import io
import re
import sys
import zipfile
from pathlib import Path

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import parse_xml

from rag.ingest.formats.docx import CHECKED, UNCHECKED, UNKNOWN
from rag.ingest.formats.extracted import load_extracted
from rag.types import Document

NS = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml"'
)
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def add_xml(document: docx.document.Document, xml: str) -> None:
    """Append a raw body element (``w:p``, ``w:sdt``, ``w:tbl``), given without namespace declarations."""
    tag_end = re.match(r"<[\w:]+", xml).end()
    document.element.body.sectPr.addprevious(parse_xml(xml[:tag_end] + " " + NS + xml[tag_end:]))


def extract(document: docx.document.Document) -> Document:
    buffer = io.BytesIO()
    document.save(buffer)
    return load_bytes(buffer.getvalue())


def load_bytes(data: bytes) -> Document:
    results = list(load_extracted(Path("x.docx"), data))
    assert len(results) == 1 and isinstance(results[0], Document), results
    assert not PRIVATE_USE.search(results[0].text)
    return results[0]


def section_of(doc: Document, needle: str) -> str | None:
    at = doc.text.index(needle)
    return next((s.path for s in doc.sections if s.start <= at < s.end), None)


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def box(lines: list[str]) -> str:
    return (
        "<w:txbxContent>" + "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in lines) + "</w:txbxContent>"
    )


def test_text_box_read_once_before_its_anchor_paragraph() -> None:
    document = docx.Document()
    lines = ["Jane Q. Example", "12 Harbour Road, Cove Town"]
    drawing = (
        '<w:drawing><wp:anchor><wp:docPr id="1" name="Text Box 1"/><a:graphic><a:graphicData '
        'uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:wsp><wps:txbx>'
        f"{box(lines)}</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing>"
    )
    vml = f'<w:pict><v:shape id="s1"><v:textbox>{box(lines)}</v:textbox></v:shape></w:pict>'
    heading_style = document.styles["Heading 1"].style_id
    add_xml(
        document,
        f'<w:p><w:pPr><w:pStyle w:val="{heading_style}"/></w:pPr><w:r><mc:AlternateContent><mc:Choice Requires="wps">'
        f"{drawing}</mc:Choice><mc:Fallback>{vml}</mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>Objective</w:t>"
        "</w:r></w:p>",
    )
    document.add_paragraph("A tidy résumé.")
    legacy = f'<w:pict><v:shape id="s2"><v:textbox>{box(["Legacy box"])}</v:textbox></v:shape></w:pict>'
    add_xml(document, f"<w:p><w:r>{legacy}</w:r><w:r><w:t>Old-style box above.</w:t></w:r></w:p>")  # VML only

    doc = extract(document)
    assert doc.text.count("Jane Q. Example") == 1 and doc.text.count("Harbour Road") == 1
    assert paragraphs(doc.text) == [*lines, "Objective", "A tidy résumé.", "Legacy box", "Old-style box above."]
    assert section_of(doc, "Jane Q. Example") is None and section_of(doc, "A tidy") == "Objective"


def test_symbol_font_characters_map_to_unicode_never_private_use() -> None:
    document = docx.Document()
    sym = '<w:r><w:sym w:font="{}" w:char="{}"/></w:r>'
    add_xml(
        document,
        '<w:p><w:r><w:t xml:space="preserve">Done </w:t></w:r>'
        + sym.format("Wingdings", "F0FC")
        + '<w:r><w:t xml:space="preserve"> x </w:t></w:r>'
        + sym.format("Symbol", "F0B3")
        + '<w:r><w:t xml:space="preserve"> 2 </w:t></w:r>'
        + sym.format("Symbol", "F061")
        + '<w:r><w:t xml:space="preserve"> box </w:t></w:r>'
        + sym.format("Wingdings", "F0FE")
        + sym.format("Wingdings", "F0A8")
        + '<w:r><w:t xml:space="preserve"> gap </w:t></w:r>'
        + sym.format("Symbol", "F094")  # no glyph in the Symbol font
        + sym.format("Marlett", "F061")  # an unknown symbol font
        + sym.format("MS Gothic", "2612")  # a real Unicode code
        + "</w:p>",
    )
    add_xml(  # old conversions: private-use text in a run set in Wingdings
        document,
        '<w:p><w:r><w:rPr><w:rFonts w:ascii="Wingdings" w:hAnsi="Wingdings"/></w:rPr><w:t>\uf0fc\uf0fb</w:t></w:r>'
        "<w:r><w:t>\ue001 stray</w:t></w:r></w:p>",
    )
    doc = extract(document)
    assert paragraphs(doc.text) == [
        f"Done ✓ x ≥ 2 α box ☑{UNCHECKED} gap {UNKNOWN}{UNKNOWN}{CHECKED}",
        f"✓✗{UNKNOWN} stray",
    ]


def fldchar_checkbox(state: str, label: str) -> str:
    return (
        f'<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Check"/><w:enabled/><w:checkBox><w:sizeAuto/>'
        f'{state}</w:checkBox></w:ffData></w:fldChar></w:r><w:r><w:instrText xml:space="preserve"> FORMCHECKBOX '
        f'</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:t xml:space="preserve"> {label} </w:t>'
        "</w:r>"
    )


def test_form_checkboxes_render_their_state() -> None:
    document = docx.Document()
    add_xml(
        document,
        "<w:p>"
        + fldchar_checkbox('<w:default w:val="0"/><w:checked/>', "Yes")
        + fldchar_checkbox('<w:default w:val="0"/>', "No")
        + fldchar_checkbox('<w:default w:val="1"/>', "Maybe")
        + fldchar_checkbox('<w:default w:val="1"/><w:checked w:val="0"/>', "Later")
        + "</w:p>",
    )
    control = (
        '<w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="{}"/></w14:checkbox></w:sdtPr>'
        '<w:sdtContent><w:r><w:t>{}</w:t></w:r></w:sdtContent></w:sdt><w:r><w:t xml:space="preserve"> {} </w:t></w:r>'
    )
    add_xml(document, "<w:p>" + control.format(1, "☒", "Tea") + control.format(0, "☐", "Coffee") + "</w:p>")
    doc = extract(document)
    assert paragraphs(doc.text) == ["☒ Yes ☐ No ☒ Maybe ☐ Later", "☒ Tea ☐ Coffee"]
    assert "FORMCHECKBOX" not in doc.text


def test_breaks_in_cells_never_glue_values_and_parallel_lines_become_rows() -> None:
    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    for col, text in enumerate(("", "2006", "2007")):
        table.cell(0, col).text = text
    cells = table.rows[1].cells
    cells[0].text = "Gross Income"
    cells[0].add_paragraph("Net Cash Income")
    for cell, values in ((cells[1], ("17,542", "16,717")), (cells[2], ("17,542", "17,542"))):
        run = cell.paragraphs[0].add_run(values[0])
        run.add_break()
        run.add_text(values[1])
    lone = table.cell(2, 1).paragraphs[0].add_run("32,000")
    lone.add_break()
    lone.add_text("3,508")
    table.cell(2, 0).paragraphs[0].add_run("Tax").add_tab()
    table.cell(2, 0).paragraphs[0].add_run("band")
    doc = extract(document)
    assert doc.text.splitlines() == [
        "| 2006 | 2007",
        "Gross Income | 17,542 | 17,542",
        "Net Cash Income | 16,717 | 17,542",
        "Tax band | 32,000 3,508 |",
    ]
    assert "54232" not in doc.text and len(doc.tables) == 1 and doc.tables[0].end == len(doc.text)


def test_merged_cells_appear_once_and_nested_tables_are_kept() -> None:
    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "Full name (as per passport)"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "Attach photo here"
    table.cell(1, 1).text, table.cell(1, 2).text = "Day", "Month"
    inner = table.cell(2, 1).add_table(rows=2, cols=2)
    for r, c, text in ((0, 0, "Father"), (0, 1, "Lisbon"), (1, 0, "Mother"), (1, 1, "Porto")):
        inner.cell(r, c).text = text
    table.cell(2, 2).text = "Year"
    doc = extract(document)
    assert doc.text.count("Full name") == 1 and doc.text.count("Attach photo here") == 1
    assert doc.text.splitlines() == [
        "Full name (as per passport)",
        "Attach photo here | Day | Month",
        "| Father; Lisbon Mother; Porto | Year",
    ]


def test_content_controls_smart_tags_and_revisions() -> None:
    document = docx.Document()
    add_xml(
        document,
        '<w:sdt><w:sdtPr><w:alias w:val="Tip"/></w:sdtPr><w:sdtContent><w:p><w:r><w:t>Tip inside a block control.'
        "</w:t></w:r></w:p><w:sdt><w:sdtContent><w:p><w:r><w:t>Nested control.</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        "</w:sdtContent></w:sdt>",
    )
    add_xml(
        document,
        '<w:p><w:r><w:t xml:space="preserve">Consulate in </w:t></w:r><w:smartTag w:uri="urn:places" w:element="City">'
        '<w:r><w:t>San Francisco</w:t></w:r></w:smartTag><w:r><w:t xml:space="preserve">, </w:t></w:r><w:sdt><w:sdtPr/>'
        '<w:sdtContent><w:r><w:t>[Company]</w:t></w:r></w:sdtContent></w:sdt><w:ins w:id="1" w:author="a"><w:r>'
        '<w:t xml:space="preserve"> added</w:t></w:r></w:ins><w:del w:id="2" w:author="a"><w:r><w:delText> removed'
        '</w:delText></w:r></w:del><w:hyperlink><w:r><w:t xml:space="preserve"> linked</w:t></w:r></w:hyperlink>'
        '<w:fldSimple w:instr=" PAGE "><w:r><w:t xml:space="preserve"> 7</w:t></w:r></w:fldSimple></w:p>',
    )
    doc = extract(document)
    assert paragraphs(doc.text) == [
        "Tip inside a block control.",
        "Nested control.",
        "Consulate in San Francisco, [Company] added linked 7",
    ]


def test_heading_levels_from_styles_names_and_outline_levels() -> None:
    document = docx.Document()
    custom = document.styles.add_style("Abschnitt", WD_STYLE_TYPE.PARAGRAPH)  # a heading style in another language
    custom.element.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {NS} w:val="0"/>'))
    derived = document.styles.add_style("Abschnitt blau", WD_STYLE_TYPE.PARAGRAPH)
    derived.base_style = custom
    document.add_paragraph("Worldview Essay", style="Title")
    document.add_paragraph("Intro under the title.")
    document.add_heading("Body", level=1)
    document.add_heading("Body Paragraphs", level=2)
    document.add_heading("Your worldview", level=3)
    document.add_paragraph("Epistemology is about knowledge.")
    document.add_paragraph("Anhang", style="Abschnitt")
    document.add_paragraph("Notes in the appendix.")
    document.add_paragraph("Quellen", style="Abschnitt blau")
    add_xml(document, '<w:p><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t>Online</w:t></w:r></w:p>')
    document.add_paragraph("Links to sources.")
    table = document.add_table(rows=1, cols=1)
    table.cell(0, 0).paragraphs[0].style = document.styles["Heading 2"]
    table.cell(0, 0).paragraphs[0].add_run("Form heading in a cell")
    doc = extract(document)
    assert section_of(doc, "Intro under") == "Worldview Essay"
    assert section_of(doc, "Epistemology") == "Body > Body Paragraphs > Your worldview"
    assert section_of(doc, "Notes in") == "Anhang"
    assert section_of(doc, "Links to") == "Quellen > Online"
    assert "Form heading in a cell" in doc.text and all("Form heading" not in s.path for s in doc.sections)


def toc_line(style: str, title: str, page: int) -> str:
    """A table of contents line as Word writes it: a hyperlink to the heading, a tab, a PAGEREF field."""
    return (
        f'<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr><w:hyperlink w:anchor="_Toc{page}"><w:r><w:t>{title}</w:t>'
        '</w:r><w:r><w:tab/></w:r><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> PAGEREF '
        f'_Toc{page} \\h </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>{page}</w:t>'
        '</w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:hyperlink></w:p>'
    )


def test_a_generated_table_of_contents_is_left_out() -> None:
    """Word's table of contents repeats every heading with its page number: indexed, it is a passage that matches
    any question about the headings' words, and its "Contents" heading (styled on Heading 1) opened a section. Both
    forms are left out: in a content control (Word 2007 and later) and as bare ``TOC N`` paragraphs (older files)."""
    document = docx.Document()
    for style_id, name in [("TOCHeading", "TOC Heading"), ("TOC1", "toc 1"), ("TOC2", "toc 2")]:
        document.styles.element.append(
            parse_xml(f'<w:style {NS} w:type="paragraph" w:styleId="{style_id}"><w:name w:val="{name}"/></w:style>')
        )
    document.styles.element[-3].append(parse_xml(f'<w:pPr {NS}><w:outlineLvl w:val="0"/></w:pPr>'))
    add_xml(
        document,
        '<w:sdt><w:sdtPr><w:docPartObj><w:docPartGallery w:val="Table of Contents"/><w:docPartUnique/></w:docPartObj>'
        '</w:sdtPr><w:sdtContent><w:p><w:pPr><w:pStyle w:val="TOCHeading"/></w:pPr><w:r><w:t>Contents</w:t></w:r>'
        f"</w:p>{toc_line('TOC1', 'Harbour permits', 3)}{toc_line('TOC2', 'Renewal fees', 4)}</w:sdtContent></w:sdt>",
    )
    add_xml(document, toc_line("TOC1", "Harbour permits", 3))  # an older file's, outside any content control
    document.add_heading("Harbour permits", level=1)
    document.add_paragraph("Permits are renewed every three years.")
    document.add_heading("Renewal fees", level=2)
    document.add_paragraph("The renewal fee is 40 crowns.")
    doc = extract(document)
    assert paragraphs(doc.text) == [
        "Harbour permits", "Permits are renewed every three years.", "Renewal fees", "The renewal fee is 40 crowns."
    ]  # fmt: skip
    assert section_of(doc, "The renewal fee") == "Harbour permits > Renewal fees"


def test_deeply_nested_tables_need_no_recursion() -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=1)
    for depth in range(60):
        table.cell(0, 0).text = f"level{depth}"
        table = table.cell(0, 0).add_table(rows=1, cols=1)
    buffer = io.BytesIO()
    document.save(buffer)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 80)  # far fewer frames than 60 nested tables would take recursively
    try:
        results = list(load_extracted(Path("x.docx"), buffer.getvalue()))
    finally:
        sys.setrecursionlimit(limit)
    assert isinstance(results[0], Document) and results[0].text.split() == [f"level{d}" for d in range(60)]


def with_parts(document: docx.document.Document, parts: dict[str, tuple[str, str, str]], drop: str = "") -> bytes:
    """The saved file with extra parts (``name: (relationship type, content type, XML)``) related to the document
    part, and the package relationship whose type ends with ``drop`` (if any) removed."""
    buffer = io.BytesIO()
    document.save(buffer)
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename).decode("utf-8") if item.filename.endswith((".xml", ".rels")) else None
            if item.filename == "word/_rels/document.xml.rels":
                extra = "".join(
                    f'<Relationship Id="rIdX{n}" Type="{rel_ns}{rel}" Target="{name.removeprefix("word/")}"/>'
                    for n, (name, (rel, _, _)) in enumerate(parts.items())
                )
                data = data.replace("</Relationships>", extra + "</Relationships>")
            elif item.filename == "[Content_Types].xml":
                extra = "".join(
                    f'<Override PartName="/{name}" ContentType="{ct}"/>' for name, (_, ct, _) in parts.items()
                )
                data = data.replace("</Types>", extra + "</Types>")
            elif item.filename == "_rels/.rels" and drop:
                data = re.sub(rf'<Relationship [^>]*Type="[^"]*{drop}"[^>]*/>', "", data)
            target.writestr(item, data.encode("utf-8") if data is not None else source.read(item.filename))
        for name, (_, _, xml) in parts.items():
            target.writestr(name, xml)
    return out.getvalue()


def notes_part(kind: str, notes: dict[int, str]) -> str:
    separators = "".join(
        f'<w:{kind} w:type="{t}" w:id="{i}"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>'
        for i, t in ((-1, "separator"), (0, "continuationSeparator"))
    )
    bodies = "".join(
        f'<w:{kind} w:id="{i}"><w:p><w:r><w:{kind}Ref/></w:r><w:r><w:t xml:space="preserve"> {text}</w:t></w:r></w:p>'
        f"</w:{kind}>"
        for i, text in notes.items()
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><w:{kind}s {NS}>{separators}{bodies}</w:{kind}s>'


def test_footnotes_and_endnotes_follow_what_refers_to_them_numbered_as_word_shows_them() -> None:
    document = docx.Document()
    document.add_heading("Method", level=1)
    add_xml(
        document,
        '<w:p><w:r><w:t>The sample was small.</w:t></w:r><w:r><w:footnoteReference w:id="7"/></w:r>'
        '<w:r><w:t xml:space="preserve"> It was weighed.</w:t></w:r><w:r><w:endnoteReference w:id="2"/></w:r></w:p>',
    )
    add_xml(
        document,
        '<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Dose</w:t></w:r><w:r><w:footnoteReference w:id="3"/></w:r></w:p></w:tc>'
        "<w:tc><w:p><w:r><w:t>5 mg</w:t></w:r></w:p></w:tc></w:tr></w:tbl>",
    )
    document.add_paragraph("Closing words.")
    ct = "application/vnd.openxmlformats-officedocument.wordprocessingml.{}+xml"
    data = with_parts(
        document,
        {
            "word/footnotes.xml": (
                "footnotes",
                ct.format("footnotes"),
                notes_part("footnote", {3: "Per kilogram of body weight.", 7: "Twelve mice in all."}),
            ),
            "word/endnotes.xml": (
                "endnotes",
                ct.format("endnotes"),
                notes_part("endnote", {2: "On a calibrated scale."}),
            ),
        },
    )
    doc = load_bytes(data)
    blocks = paragraphs(doc.text)
    assert blocks == [
        "Method",
        "The sample was small. It was weighed.",
        "[1] Twelve mice in all.",
        "[i] On a calibrated scale.",
        "Dose | 5 mg",
        "[2] Per kilogram of body weight.",
        "Closing words.",
    ]
    assert section_of(doc, "Twelve mice") == "Method" and "separator" not in doc.text


def test_title_is_the_stored_one_else_the_title_paragraph_never_one_python_docx_invents() -> None:
    titled = docx.Document()
    titled.core_properties.title = "Stored Title"
    titled.add_paragraph("Shown Title", style="Title")
    assert extract(titled).title == "Stored Title"

    untitled = docx.Document()
    untitled.core_properties.title = "  "
    title_style = untitled.styles["Title"].style_id  # a template's title sits in a content control
    add_xml(
        untitled,
        f'<w:sdt><w:sdtContent><w:p><w:pPr><w:pStyle w:val="{title_style}"/></w:pPr><w:r><w:t>Personal Essay</w:t>'
        "</w:r></w:p></w:sdtContent></w:sdt>",
    )
    untitled.add_paragraph("Write at least 1200 words.")
    assert extract(untitled).title == "Personal Essay"

    bare = docx.Document()  # no core-properties part at all: python-docx would call it "Word Document"
    bare.add_paragraph("Just a line.")
    doc = load_bytes(with_parts(bare, {}, drop="core-properties"))
    assert doc.title is None and doc.text == "Just a line."


STRICT = "http://purl.oclc.org/ooxml"
STRICT_PARTS = {
    "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>',
    "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{STRICT}/officeDocument/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>',
    "word/_rels/document.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{STRICT}/officeDocument/relationships/styles" Target="styles.xml"/>'
    "</Relationships>",
    "word/styles.xml": f'<w:styles xmlns:w="{STRICT}/wordprocessingml/main">'
    '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style></w:styles>',
    "word/document.xml": f'<w:document xmlns:w="{STRICT}/wordprocessingml/main"><w:body>'
    '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Harbour permits</w:t></w:r></w:p>'
    '<w:p><w:r><w:t>Permits are renewed every </w:t></w:r><w:r><w:rPr><w:b w:val="on"/></w:rPr>'
    "<w:t>three years</w:t></w:r><w:r><w:t>.</w:t></w:r></w:p></w:body></w:document>",
}


def test_a_strict_open_xml_document_is_read_like_a_transitional_one() -> None:
    """Word saves "Strict Open XML Document" with ISO 29500 Strict namespaces, where python-docx finds no document at
    all; the package is read with them renamed, headings included."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        for name, xml in STRICT_PARTS.items():
            package.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + xml)
    doc = load_bytes(archive.getvalue())
    assert paragraphs(doc.text) == ["Harbour permits", "Permits are renewed every three years."]
    assert section_of(doc, "three years") == "Harbour permits"


def test_a_relationship_to_a_part_the_file_lacks_loses_only_that_part() -> None:
    """A tool that wrote the file lost a picture but kept its relationship: python-docx refused the whole document
    ("There is no item named 'word/media/image9.gif'"), where Word shows the text and a broken picture."""
    document = docx.Document()
    document.add_paragraph("Permits are renewed every three years.")
    buffer = io.BytesIO()
    document.save(buffer)
    broken = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(broken, "w") as target:
        for part in source.infolist():
            content = source.read(part)
            if part.filename == "word/_rels/document.xml.rels":
                picture = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"
                lost = f'<Relationship Id="rId99" Type="{picture}" Target="media/image9.gif"/>'
                content = content.replace(b"</Relationships>", lost.encode() + b"</Relationships>")
            target.writestr(part, content)
    assert load_bytes(broken.getvalue()).text == "Permits are renewed every three years."


DIAGRAM_NS = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
DRAWING_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"


def smartart_data(shapes: list[str]) -> bytes:
    """A SmartArt data model: a document point, one node point per shape, and the connectors between them."""
    points = [f'<dgm:pt modelId="{{{i}}}"><dgm:prSet/><dgm:spPr/><dgm:t><a:bodyPr/><a:p><a:r><a:t>{text}</a:t></a:r>'
              f"</a:p></dgm:t></dgm:pt>" for i, text in enumerate(shapes, start=1)]  # fmt: skip
    points.append(
        '<dgm:pt modelId="{90}" type="parTrans"><dgm:t><a:bodyPr/><a:p><a:endParaRPr/></a:p></dgm:t></dgm:pt>'
    )
    return (
        f'<dgm:dataModel xmlns:dgm="{DIAGRAM_NS}" xmlns:a="{DRAWING_NS}"><dgm:ptLst>'
        '<dgm:pt modelId="{0}" type="doc"><dgm:prSet/><dgm:spPr/><dgm:t><a:bodyPr/><a:p><a:endParaRPr/></a:p></dgm:t>'
        f"</dgm:pt>{''.join(points)}</dgm:ptLst><dgm:cxnLst/></dgm:dataModel>"
    ).encode()


def test_smartart_text_follows_the_paragraph_that_holds_it() -> None:
    """A SmartArt graphic's text (an org chart, a process) lives in a diagram data part that python-docx never reads:
    it was lost. Each shape is a line, after the paragraph that anchors the graphic."""
    from docx.opc.constants import CONTENT_TYPE, RELATIONSHIP_TYPE
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    document = docx.Document()
    document.add_paragraph("The renewal goes through three offices.")
    data = Part(PackURI("/word/diagrams/data1.xml"), CONTENT_TYPE.DML_DIAGRAM_DATA,
                smartart_data(["Harbour office", "Permit desk", "Treasury"]), document.part.package)  # fmt: skip
    rel_id = document.part.relate_to(data, RELATIONSHIP_TYPE.DIAGRAM_DATA)
    graphic = (
        '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="5486400" cy="3200400"/><wp:docPr id="1" name="Diagram 1"/>'
        '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/diagram">'
        f'<dgm:relIds xmlns:dgm="{DIAGRAM_NS}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships" r:dm="{rel_id}" r:lo="rId90" r:qs="rId91" r:cs="rId92"/></a:graphicData></a:graphic>'
        "</wp:inline></w:drawing></w:r></w:p>"
    )
    add_xml(document, graphic)
    document.add_paragraph("Fees are paid at the last office.")
    assert paragraphs(extract(document).text) == [
        "The renewal goes through three offices.",
        "Harbour office\nPermit desk\nTreasury",
        "Fees are paid at the last office.",
    ]


def numbering_part(document: docx.document.Document, definitions: str) -> None:
    """Replace the document's numbering definitions with ``definitions`` (``w:abstractNum`` and ``w:num``)."""
    part = document.part.numbering_part
    for child in list(part.element):
        part.element.remove(child)
    for element in parse_xml(f"<w:numbering {NS}>{definitions}</w:numbering>"):
        part.element.append(element)


def level(ilvl: int, text: str, fmt: str = "decimal", extra: str = "") -> str:
    """A list level starting at 1, its number in format ``fmt`` placed by ``text`` ("%1.%2")."""
    return (
        f'<w:lvl w:ilvl="{ilvl}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/>'
        f"{extra}</w:lvl>"
    )


def numbered(text: str, num_id: int, ilvl: int = 0) -> str:
    """A paragraph of list ``num_id`` at level ``ilvl``."""
    number = f'<w:numPr><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num_id}"/></w:numPr>'
    return f"<w:p><w:pPr>{number}</w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>"


def test_numbers_word_shows_before_headings_and_list_items_are_read() -> None:
    """Word numbers a standard's headings through their styles and its lists through numbering definitions; the
    numbers are not in the text. They are counted as Word counts them: by level, restarting below a higher level,
    each level in its own format, a list started anew by a start override, lists of one definition counted on
    together, bullets left out."""
    document = docx.Document()
    numbering_part(
        document,
        '<w:abstractNum w:abstractNumId="0">'
        + level(0, "%1", extra='<w:pStyle w:val="Heading1"/>')
        + level(1, "%1.%2", extra='<w:pStyle w:val="Heading2"/>')
        + "</w:abstractNum>"
        + '<w:abstractNum w:abstractNumId="1">'
        + level(0, "%1)", "lowerLetter")
        + level(1, "(%2)", "lowerRoman")
        + "</w:abstractNum>"
        + f'<w:abstractNum w:abstractNumId="2">{level(0, "•", "bullet")}</w:abstractNum>'
        + f'<w:abstractNum w:abstractNumId="3">{level(0, "Article %1", "upperRoman")}'
        + level(1, "%1.%2", "decimal", '<w:isLgl/><w:suff w:val="space"/>')
        + "</w:abstractNum>"
        + '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>'
        + '<w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num>'
        + '<w:num w:numId="3"><w:abstractNumId w:val="1"/>'
        + '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'
        + '<w:num w:numId="4"><w:abstractNumId w:val="2"/></w:num>'
        + '<w:num w:numId="5"><w:abstractNumId w:val="3"/></w:num>',
    )
    for style_id, ilvl in (("Heading1", None), ("Heading2", 1)):
        style = document.styles.get_by_id(style_id, WD_STYLE_TYPE.PARAGRAPH).element
        level_xml = f'<w:ilvl w:val="{ilvl}"/>' if ilvl is not None else ""
        style.get_or_add_pPr().append(parse_xml(f'<w:numPr {NS}>{level_xml}<w:numId w:val="1"/></w:numPr>'))
    document.add_heading("Scope", 1)
    document.add_paragraph("This standard applies to web services.")
    document.add_heading("Requirements", 1)
    document.add_heading("Access control", 2)
    for paragraph in ("Sessions expire after an idle hour.", "Passwords are hashed.", "with a salt,"):
        add_xml(document, numbered(paragraph, 2, ilvl=1 if paragraph.startswith("with") else 0))
    add_xml(document, numbered("and a pepper.", 2, ilvl=1))
    add_xml(document, numbered("Keys are rotated yearly.", 2))
    document.add_heading("Logging", 2)
    add_xml(document, numbered("Logins are logged.", 3))
    add_xml(document, numbered("Failures are logged.", 2))
    add_xml(document, numbered("Only a bullet.", 4))
    add_xml(document, numbered("Definitions", 5))
    add_xml(document, numbered("Terms used in this standard.", 5, ilvl=1))
    doc = extract(document)
    assert paragraphs(doc.text) == [
        "1 Scope",
        "This standard applies to web services.",
        "2 Requirements",
        "2.1 Access control",
        "a) Sessions expire after an idle hour.",
        "b) Passwords are hashed.",
        "(i) with a salt,",
        "(ii) and a pepper.",
        "c) Keys are rotated yearly.",
        "2.2 Logging",
        "a) Logins are logged.",
        "b) Failures are logged.",
        "Only a bullet.",
        "Article I Definitions",
        "1.1 Terms used in this standard.",
    ]
    assert section_of(doc, "Keys are rotated") == "2 Requirements > 2.1 Access control"
