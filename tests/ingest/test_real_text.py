"""What the text *is*, not only where it is: legacy encodings decoded right, ligatures and compatibility forms
folded for search while shown text stays exact, PDF running headers and footers kept out of passages, CR-only
line ends counted, and files that did not change not extracted again. Fixtures are made here."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from conftest import write_bytes
from journal_pdf import dejavu_path, make_journal_pdf

from rag.index.build import build_index
from rag.index.lexical import LexicalTokenizer
from rag.index.reader import open_index
from rag.ingest.decoding import UndecodableFileError, decode_bytes
from rag.ingest.formats.markdown import markdown_structure
from rag.ingest.formats.pdf import clean_page_text
from rag.ingest.loading import load_corpus
from rag.search.citation import span_in
from rag.search.searcher import Searcher
from rag.textforms import searchable, searchable_with_offsets
from rag.types import Chunk

LEGACY_TEXTS = {
    "latin_1": "Le château se trouve au coeur de la vallée. Les élèves ont visité le musée à pied, où ils ont "
    "découvert des oeuvres célèbres. Après le déjeuner, ils sont allés à la forêt près du lac, où l'on pêche des "
    "truites. Le garçon a reçu un prix très spécial pour son travail.",
    "cp1252": "Die Schüler der Deutschen Schule haben am Wochenende einen Ausflug gemacht. „Das Wetter war "
    "großartig“, sagte die Lehrerin – und die Fahrkarte kostete nur 12 €. Später gab es Kaffee und Kuchen für alle "
    "Beteiligten, und die Gäste aus Österreich waren begeistert.",
    "cp1250": "Wczoraj w Łodzi odbyła się konferencja naukowa poświęcona zmianom klimatu. Uczestnicy zwrócili "
    "uwagę, że średnia temperatura w Polsce rośnie, a opady śniegu są coraz rzadsze. Według ekspertów źródłem "
    "problemu jest spalanie węgla, którego zużycie wciąż jest wysokie.",
    "cp1251": "Вчера в Москве прошла научная конференция, посвящённая изменению климата. Участники отметили, что "
    "средняя температура в России растёт, а зимы становятся всё теплее. По мнению экспертов, главная причина — "
    "сжигание угля и нефти, потребление которых остаётся высоким.",
    "iso8859_7": "Χθες στην Αθήνα πραγματοποιήθηκε επιστημονικό συνέδριο για την κλιματική αλλαγή. Οι "
    "συμμετέχοντες τόνισαν ότι η μέση θερμοκρασία στην Ελλάδα αυξάνεται και ότι τα καλοκαίρια γίνονται όλο και πιο "
    "ζεστά. Σύμφωνα με τους ειδικούς, η κύρια αιτία είναι η καύση άνθρακα.",
    "iso8859_9": "Dün İstanbul'da iklim değişikliği üzerine bilimsel bir konferans düzenlendi. Katılımcılar, "
    "Türkiye'de ortalama sıcaklığın arttığını ve yazların giderek daha sıcak geçtiğini vurguladı. Uzmanlara göre "
    "asıl neden kömür ve petrol yakılması; tüketim hâlâ çok yüksek.",
    "koi8_r": "Вчера в Санкт-Петербурге открылась выставка современного искусства. Посетители смогли увидеть "
    "работы молодых художников из разных городов страны. Организаторы рассказали, что выставка продлится до конца "
    "месяца, а вход для студентов будет бесплатным.",
    "shift_jis": "昨日、東京で気候変動に関する学術会議が開催されました。参加者は、日本の平均気温が上昇しており、夏が"
    "ますます暑くなっていると指摘しました。専門家によると、主な原因は石炭と石油の燃焼であり、その消費量は依然として"
    "高い水準にあります。",
    "euc_jp": "京都の古いお寺では、毎年秋になると多くの観光客が紅葉を見に訪れます。地元の人々は、静かな朝の時間に"
    "散歩をするのが好きだと話しています。お寺の近くには伝統的な和菓子の店があり、抹茶と一緒に楽しむことができます。",
}


@pytest.mark.parametrize("encoding", sorted(LEGACY_TEXTS))
def test_each_legacy_encoding_is_decoded_to_the_text_that_was_encoded(encoding: str) -> None:
    text = LEGACY_TEXTS[encoding]
    decoded, used = decode_bytes(text.encode(encoding))
    assert decoded == text, f"decoded as {used}"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_text_is_read_with_or_without_a_byte_order_mark(encoding: str) -> None:
    """What Windows tools save as "Unicode": NUL bytes in every other position, which is not binary data."""
    text = LEGACY_TEXTS["cp1251"] + "\n" + LEGACY_TEXTS["latin_1"]
    decoded, used = decode_bytes(text.encode(encoding))
    assert decoded == text
    assert text.encode(encoding).decode(used) == decoded  # the recorded codec reads the same text back


def test_nul_bytes_that_are_not_utf16_still_mean_binary() -> None:
    image = bytes(range(256)) * 8 + b"\x00" * 512
    with pytest.raises(UndecodableFileError, match="binary file"):
        decode_bytes(image)
    with pytest.raises(UndecodableFileError, match="marked as UTF-16 but byte"):
        decode_bytes(codecs.BOM_UTF16_LE + "ok".encode("utf-16-le") + b"\x00\xdc")  # a lone low surrogate


@pytest.mark.parametrize(("encoding", "language"), [("iso2022_jp", "shift_jis"), ("iso2022_kr", None)])
def test_iso_2022_text_is_decoded_though_its_bytes_are_ascii(encoding: str, language: str | None) -> None:
    text = (
        LEGACY_TEXTS[language]
        if language
        else "서울에서 어제 기후 변화에 관한 학술 회의가 열렸습니다. 참가자들은 여름이 점점 더워지고 있다고 말했습니다."
    )
    data = text.encode(encoding)
    assert data.isascii()  # valid UTF-8 too, which is what it was read as before
    decoded, used = decode_bytes(data)
    assert (decoded, used.startswith("iso2022")) == (text, True)


def test_an_xml_declaration_names_the_encoding(tmp_path: Path) -> None:
    body = "<rss><title>Вести</title><description>Погода в Москве: тепло и солнечно, без осадков.</description></rss>"
    write_bytes(tmp_path / "feed.xml", b'<?xml version="1.0" encoding="koi8-r"?>\n' + body.encode("koi8_r"))
    [document] = load_corpus([tmp_path]).documents
    assert document.encoding == "koi8-r"
    assert "Погода в Москве" in document.text


def test_searchable_form_folds_ligatures_spaces_and_invisible_characters() -> None:
    assert searchable("the \ufb01le and the \ufb02ow") == "the file and the flow"
    assert (
        searchable("non\u00a0breaking soft\u00adhyphen zero\u200bwidth ＡＢＣ")
        == "non breaking softhyphen zerowidth ABC"
    )
    assert searchable("minus\x00sign") == "minus sign"
    folded, offsets = searchable_with_offsets("a \ufb01ne day")
    assert folded == "a fine day"
    assert folded[offsets[2] : offsets[5]] == "fine"  # "\ufb01ne" is characters 2..4 of the source


def test_bm25_and_embedded_text_see_the_folded_form_while_the_shown_text_stays_exact() -> None:
    tokens = LexicalTokenizer("en")
    assert tokens("The \ufb01le was saved") == tokens("The file was saved")
    chunk = Chunk("d", 0, 10, 25, "a \ufb01ne\u00a0day.", 1, 1, 5, context="Title")
    assert chunk.embed_text == "Title\na fine day."
    start, end = chunk.embed_span(12, 15)  # "\ufb01ne" in the source's coordinates
    assert chunk.embed_text[start:end] == "fine"


def test_a_plain_text_file_with_ligatures_is_found_by_plain_words_and_cited_byte_exact(
    tmp_path: Path, standin_settings, standin_embedder
) -> None:
    corpus = tmp_path / "docs"
    text = "The of\ufb01cial \ufb01ling deadline for the harbour permit is the ﬁfth of March.\n"
    write_bytes(corpus / "permit.txt", text.encode("utf-8"))
    write_bytes(corpus / "other.txt", b"Orchards in the valley bloom in April, weeks before the harbour opens.\n")
    index_dir = tmp_path / "index"
    build_index([corpus], standin_settings, index_dir=index_dir, embedder=standin_embedder)
    with Searcher(open_index(index_dir, standin_settings), standin_embedder, standin_settings) as searcher:
        [hit] = searcher.search("official filing deadline", k=1, mode="bm25")
        assert hit.citation.source.endswith("permit.txt")
        assert hit.text == text.strip()  # shown as the file has it, ligatures and all
        assert searcher.document_text(hit.citation.doc_id)[hit.citation.start : hit.citation.end] == hit.text


def test_pdf_ligatures_are_folded_and_running_headers_and_footers_stay_out_of_passages(
    tmp_path: Path, standin_settings, standin_embedder
) -> None:
    make_journal_pdf(tmp_path / "docs" / "paper.pdf")
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert "field survey" in document.text and "flow of water" in document.text and "official record" in document.text
    assert "\ufb01" not in document.text and "\ufb02" not in document.text
    assert "Journal of Coastal Engineering" not in document.text
    assert "Page 3 of 6" not in document.text
    assert [page.number for page in document.pages] == [1, 2, 3, 4, 5, 6]
    index_dir = tmp_path / "index"
    build_index([tmp_path / "docs"], standin_settings, index_dir=index_dir, embedder=standin_embedder)
    with Searcher(open_index(index_dir, standin_settings), standin_embedder, standin_settings) as searcher:
        hits = searcher.search("Journal of Coastal Engineering glaciers", k=5, mode="bm25")
        assert hits and hits[0].citation.page == 6  # the glaciers page, not every page's header
        assert all("Journal of Coastal" not in hit.text for hit in hits)


def test_a_page_with_nothing_but_its_running_lines_is_left_out_without_a_report(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    make_journal_pdf(tmp_path / "full.pdf")
    writer = PdfWriter(clone_from=PdfReader(tmp_path / "full.pdf"))
    writer.add_page(PdfReader(_furniture_only(tmp_path)).pages[0])  # a book's empty verso: header and footer only
    (tmp_path / "docs").mkdir()
    writer.write(tmp_path / "docs" / "book.pdf")
    corpus = load_corpus([tmp_path / "docs"])
    [document] = corpus.documents
    assert [page.number for page in document.pages] == [1, 2, 3, 4, 5, 6]
    assert corpus.skipped == []  # not "page has no extractable text (a scanned image?)"


def _furniture_only(folder: Path) -> Path:
    """One page with only the journal's running header and a page footer."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    pdf.set_xy(10, 8)
    pdf.cell(0, 5, "Journal of Coastal Engineering, Vol. 12 (2019)")
    pdf.set_xy(10, 280)
    pdf.cell(0, 5, "Page 7 of 6")
    path = folder / "furniture.pdf"
    path.write_bytes(bytes(pdf.output()))
    return path


def test_a_short_pdf_keeps_all_its_lines(tmp_path: Path) -> None:
    """Under four pages nothing counts as a running line: a three-page memo's repeated lines are its content."""
    make_journal_pdf(tmp_path / "docs" / "memo.pdf", pages=3)
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert document.text.count("Journal of Coastal Engineering") == 3


def test_text_in_a_font_of_almost_no_height_is_read(tmp_path: Path) -> None:
    """Invisible text layers are sometimes set in a font a fraction of a point high: its lines have no height to
    share, which once failed the whole file (``max()`` of no line)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=0.05)
    pdf.set_xy(30, 40)
    pdf.cell(0, 0.05, "Hidden layer: the ferry leaves at noon.")
    write_bytes(tmp_path / "docs" / "layer.pdf", bytes(pdf.output()))
    corpus = load_corpus([tmp_path / "docs"])
    assert corpus.skipped == []
    assert [d.text for d in corpus.documents] == ["Hidden layer: the ferry leaves at noon."]


def test_a_filled_in_form_field_is_read_with_the_page(tmp_path: Path) -> None:
    """A form's values live in widget annotations, not in the page's content: a viewer draws them, and so must
    extraction (here the field even lacks a drawn appearance, as forms filled by other tools often do)."""
    write_bytes(tmp_path / "docs" / "visa.pdf", _filled_form("Applicant's family name:", "Oyelaran-Whitfield"))
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert document.text == "Applicant's family name:\nOyelaran-Whitfield"


def test_accents_drawn_as_glyphs_of_their_own_are_joined_to_their_letters(tmp_path: Path) -> None:
    """LaTeX's default fonts draw an accent as a glyph of its own over its letter, and PDFium reads it where the page
    draws it ("Jimenez´", "Pati˜no"), so the name is never matched. It is joined to the letter under it, wherever
    drawn; a tilde or caret beside letters, as in code, stays as it is."""
    write_bytes(tmp_path / "docs" / "paper.pdf", _accents_as_glyphs())
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert "Consistency was proved by Jiménez" in document.text
    assert "and Patiño of Mañana Labs." in document.text
    assert "Run cd ~/notes and square it: x^2." in document.text
    assert not any(mark in document.text for mark in "\u00b4\u02dc\u0301\u0303")


def test_a_tilde_at_the_top_of_a_line_is_not_an_accent_of_the_line_above(tmp_path: Path) -> None:
    """Manual pages set "~/.profile" with a raised tilde at the start of a line; it sits just under the letter above
    it, and was joined to it as an accent ("D̃o not read ... /.profile"). Only a cedilla or an ogonek sits under a
    letter."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=dejavu_path())
    pdf.set_font("DejaVu", size=12)
    pdf.text(20, 30, "See Jimenez\u00b4 on startup files.")  # an accent beside a letter: the page's glyphs are read
    pdf.text(20, 40, "Do not read the startup file")
    pdf.text(20, 44.5, "\u02dc/.profile at login.")
    write_bytes(tmp_path / "docs" / "manual.pdf", bytes(pdf.output()))
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert "Do not read the startup file" in document.text
    assert "/.profile at login." in document.text
    assert "\u0303/.profile" in document.text  # the tilde where it is drawn (NFKC: a space and the combining mark)


def test_words_set_apart_by_character_spacing_are_read_apart(tmp_path: Path) -> None:
    """groff's PostScript, turned into PDF, sets the space between two words as character spacing inside one string
    ("yr" spaced out is "y r"), where PDFium sees no space and reads "anyremaining". The gap is as wide as the page's
    word spaces, so it is one; a decimal point, and letters spaced out in a heading, stay as they are."""
    write_bytes(tmp_path / "docs" / "manual.pdf", _words_set_by_character_spacing())
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert "The first argument is assigned to $0 and any remaining arguments are assigned in turn." in document.text
    assert "Options are read as they are given, at 0.25 each." in document.text
    assert "\nAbstract and summary" in document.text
    assert "anyremaining" not in document.text and "theyare" not in document.text


def test_a_letter_spaced_page_keeps_its_words_whole(tmp_path: Path) -> None:
    """On a page set with tracking every pair of letters has a gap wider than a tenth of their height; a gap starts
    a word only when it is as wide as the page's own word spaces, so the words stay whole (a fixed share would have
    set every letter apart) and the two run together are still read apart."""
    write_bytes(tmp_path / "docs" / "manual.pdf", _words_set_by_character_spacing(tracking=0.15))
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert "The first argument is assigned to $0 and any remaining arguments are assigned in turn." in document.text


def test_a_justified_line_of_a_script_without_spaces_gets_none(tmp_path: Path) -> None:
    """Chinese, Japanese, Thai and Lao are written without spaces between words, and a justified line of them
    stretches the gaps between its letters as wide as a word space: no space is read into it (BM25 reads such text
    in pairs of characters, which a space would cut), while the Latin words run together beside it are set apart."""
    lao = "ພາສາລາວເປັນພາສາທາງການຂອງລາວ"
    write_bytes(tmp_path / "docs" / "lao.pdf", _words_set_by_character_spacing(lao=lao))
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert "The first argument is assigned to $0 and any remaining arguments are assigned in turn." in document.text
    assert f"\n{lao}\n" in document.text


def test_cells_of_a_sparse_slide_are_not_run_together(tmp_path: Path) -> None:
    """On a page of a few short strings (a slide's table) PDFium breaks the line between every two strings in its
    character stream, and its text of the page then drops those breaks where the strings share a line: the counts
    12, 30 and 8 were read "12 308", the header "B" and "C" as "BC". Strings a word's gap apart on one line are
    read apart."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L")
    pdf.add_page()
    pdf.add_font("DejaVu", fname=dejavu_path())
    pdf.set_font("DejaVu", size=18)
    pdf.text(30, 30, "Grades")
    for row, cells in enumerate((("A", "B", "C"), ("12", "30", "8"))):
        for column, cell in enumerate(cells):
            pdf.text(30 + 60 * column, 60 + 12 * row, cell)
    write_bytes(tmp_path / "docs" / "slides.pdf", bytes(pdf.output()))
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert "\n12 30 8" in document.text
    assert "B C\n" in document.text


def _words_set_by_character_spacing(tracking: float = 0.0, lao: str = "") -> bytes:
    """Lines as groff sets them: each string drawn where the last ended, and the string that holds the last letter
    of a word and the first of the next spaced out by a word's space (``Tc``) instead of a space; every string
    also spaced out by ``tracking`` (a share of the font size). ``lao``: a last line in Lao, justified."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=dejavu_path())
    pdf.set_font("DejaVu" if lao else "Times", size=11)
    extra = tracking * 11 / pdf.k
    space = pdf.get_string_width(" ")
    lines = [
        ["The first argument is assigned to $0 and an", ("yr", space), "emaining arguments are assigned in turn."],
        ["Options are read as the", ("ya", space), "re given, at 0", (".2", space), "5 each."],
        [("Abstract", space), " and summary"],
        *([_stretched(lao, space), ["The end."]] if lao else []),
    ]
    y = 40.0
    for pieces in lines:
        x = 20.0
        for piece in pieces:
            text, spacing = piece if isinstance(piece, tuple) else (piece, 0.0)
            spacing += extra
            width = pdf.get_string_width(text) + spacing * (len(text) - 1)  # the next string starts at its last glyph
            pdf.set_char_spacing(spacing * pdf.k)  # fpdf2 takes it in points
            pdf.text(x, y, text)
            pdf.set_char_spacing(0)
            x += width
        y += 6
    return bytes(pdf.output())


def _stretched(line: str, gap: float) -> list:
    """``line`` as a justified line of a script without spaces: two of its gaps between letters (a third and
    two thirds of the way) widened by ``gap``."""
    cuts = [len(line) // 3, 2 * len(line) // 3]
    return [line[: cuts[0] - 1], (line[cuts[0] - 1 : cuts[0] + 1], gap), line[cuts[0] + 1 : cuts[1] - 1],
            (line[cuts[1] - 1 : cuts[1] + 1], gap), line[cuts[1] + 1 :]]  # fmt: skip


def test_adobe_private_use_glyphs_are_read_as_the_letters_they_draw() -> None:
    """Expert fonts name their glyphs instead of mapping them, and PDFium (like pdftotext) passes on Adobe's private-use
    code points for the names: small capitals, old-style figures, Serbian italic Cyrillic. They are the letters."""
    small_caps = (
        "N\uf765\uf778\uf774 \uf770\uf761\uf772\uf774 \uf76f\uf766 \uf763\uf76f\uf764\uf765, \uf731\uf739\uf738\uf734"
    )
    assert clean_page_text(small_caps) == "Next part of code, 1984"
    assert clean_page_text("На шта тре\uf6c5а о\uf6c5ратити: \uf6c7рево\uf6c6") == "На шта треба обратити: превод"
    assert clean_page_text("\uf8f1 x \uf8fc private \ue000") == "⎧ x ⎫ private \ue000"  # another font's own stays


def _accents_as_glyphs() -> bytes:
    """A page set as LaTeX sets accents in its default (OT1) fonts, each accent a glyph of its own over its letter:
    drawn after the word ("Jimenez", then an acute over its first e) and before the letter ("Pati", a tilde over
    where the n goes, then "no"); then a line of code whose tilde and caret stand beside letters."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=dejavu_path())
    pdf.set_font("DejaVu", size=12)
    x, y = 20.0, 40.0

    def centred_over(line: str, letter_at: int, accent: str) -> float:
        """Where ``accent`` starts so that it is centred over ``line[letter_at]`` of a line drawn at ``x``."""
        letter_width = pdf.get_string_width(line[letter_at])
        return x + pdf.get_string_width(line[:letter_at]) + (letter_width - pdf.get_string_width(accent)) / 2

    line = "Consistency was proved by Jimenez"
    pdf.text(x, y, line)
    pdf.text(centred_over(line, line.index("menez") + 1, "\u00b4"), y - 1.2, "\u00b4")
    pdf.text(x, y + 10, "and Pati")
    pdf.text(centred_over("and Patino", 8, "\u02dc"), y + 10 - 1.4, "\u02dc")
    pdf.text(x + pdf.get_string_width("and Pati"), y + 10, "no of Ma\u00f1ana Labs.")
    pdf.text(x, y + 20, "Run cd ~/notes and square it: x^2.")
    return bytes(pdf.output())


def _filled_form(label: str, value: str) -> bytes:
    """One page with ``label`` printed and a text field holding ``value``, flagged NeedAppearances."""
    import io

    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, BooleanObject, DictionaryObject, NameObject, RectangleObject
    from pypdf.generic import TextStringObject as Text

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.set_xy(20, 20)
    pdf.cell(0, 6, label)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(bytes(pdf.output()))))
    field = {"/Subtype": NameObject("/Widget"), "/FT": NameObject("/Tx"), "/T": Text("name"), "/V": Text(value)}
    field |= {"/Rect": RectangleObject([60, 700, 300, 720]), "/DA": Text("/Helv 11 Tf 0 g")}
    annotation = writer.add_annotation(0, DictionaryObject({NameObject(k): v for k, v in field.items()}))
    helvetica = {"/Type": "/Font", "/Subtype": "/Type1", "/BaseFont": "/Helvetica"}
    fonts = DictionaryObject(
        {NameObject("/Helv"): DictionaryObject({NameObject(k): NameObject(v) for k, v in helvetica.items()})}
    )
    writer.root_object[NameObject("/AcroForm")] = DictionaryObject(
        {
            NameObject("/Fields"): ArrayObject([annotation.indirect_reference]),
            NameObject("/NeedAppearances"): BooleanObject(True),
            NameObject("/DR"): DictionaryObject({NameObject("/Font"): fonts}),
        }
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n"])
def test_line_numbers_count_cr_only_crlf_and_lf_line_ends(
    tmp_path: Path, newline: str, standin_settings, standin_embedder
) -> None:
    lines = [f"Line {n}: the ferry to island {n} leaves at {n} o'clock from pier {n}." for n in range(1, 41)]
    write_bytes(tmp_path / "docs" / "ferries.txt", newline.join(lines).encode("ascii"))
    index_dir = tmp_path / "index"
    build_index([tmp_path / "docs"], standin_settings, index_dir=index_dir, embedder=standin_embedder)
    with Searcher(open_index(index_dir, standin_settings), standin_embedder, standin_settings) as searcher:
        [hit] = searcher.search("ferry to island 37", k=1, mode="bm25")
        text = searcher.document_text(hit.citation.doc_id)
        assert "Line 37:" in hit.text
        first_line = text[: hit.citation.start].count(newline) + 1
        assert hit.citation.line_start == first_line > 30
        cited = span_in(text, hit.citation.start, hit.citation.end)
        assert (cited.line_start, cited.line_end) == (hit.citation.line_start, hit.citation.line_end)


def test_a_sync_that_changes_nothing_does_not_extract_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin_settings, standin_embedder
) -> None:
    import rag.ingest.formats.extracted as extracted

    docs = tmp_path / "docs"
    make_journal_pdf(docs / "one.pdf")
    make_journal_pdf(docs / "two.pdf", pages=5)
    calls: list[str] = []
    real_extract = extracted.extract_pdf

    def counting(source: str, data: bytes, builder):
        calls.append(Path(source).name)
        return real_extract(source, data, builder)

    monkeypatch.setattr(extracted, "extract_pdf", counting)
    settings = standin_settings.model_copy(update={"max_extract_seconds": 0})  # extract here, where calls count
    index_dir = tmp_path / "index"
    first = build_index([docs], settings, index_dir=index_dir, embedder=standin_embedder)
    assert sorted(calls) == ["one.pdf", "two.pdf"] and first.added == 2
    calls.clear()
    again = build_index([docs], settings, index_dir=index_dir, embedder=standin_embedder)
    assert calls == [] and again.unchanged == 2 and not again.changed
    make_journal_pdf(docs / "two.pdf", pages=7)
    changed = build_index([docs], settings, index_dir=index_dir, embedder=standin_embedder)
    assert calls == ["two.pdf"] and changed.updated == 1 and changed.unchanged == 1


POST = """---
title: "Tuning the copper kettle"
date: 2021-03-04
tags: [kettles, copper]
description: Why a kettle whistles in F sharp.
---

Tuning takes an afternoon.

## Cleaning

Descale it monthly with citric acid.
"""


@pytest.mark.parametrize(
    ("text", "title", "date"),
    [
        (POST, "Tuning the copper kettle", "2021-03-04"),
        (POST.replace("---\n", "+++\n").replace(": ", " = ").replace("= [kettles, copper]", '= ["kettles"]')
         .replace("= Why a kettle whistles in F sharp.", '= "Why"').replace("= 2021-03-04", "= 2021-03-04T10:00:00Z"),
         "Tuning the copper kettle", "2021-03-04"),  # TOML, as Hugo writes it
    ],
)  # fmt: skip
def test_markdown_front_matter_gives_the_title_and_date_and_is_no_heading(
    tmp_path: Path, text: str, title: str, date: str
) -> None:
    """YAML's closing ``---`` under ``description: ...`` is a setext heading to a Markdown parser: without this,
    the whole page sat in a section named after the front matter's last lines."""
    write_bytes(tmp_path / "docs" / "post.md", text.encode())
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert (document.title, document.date) == (title, date)
    assert [section.path for section in document.sections] == ["Cleaning"]
    assert document.text == text  # the file's own text is cited, front matter included


@pytest.mark.parametrize(
    "text",
    [
        "---\nA page that opens with a rule.\n---\n\nThe ferry leaves at noon.\n",  # a rule, a setext heading
        "---\ntitle: [unclosed\n---\n\nThe ferry leaves at noon.\n",  # YAML that does not parse
    ],
)
def test_a_leading_rule_or_broken_block_is_not_front_matter(tmp_path: Path, text: str) -> None:
    write_bytes(tmp_path / "docs" / "page.md", text.encode())
    [document] = load_corpus([tmp_path / "docs"]).documents
    assert document.title is None and document.date is None
    assert [section.path for section in document.sections] == [text.split("\n")[1]]  # read as Markdown reads it


def test_markdown_heading_paths_read_as_the_reader_sees_them() -> None:
    """A changelog's headings are links ("## [1.13.0](https://...) (2025-10-27)"); section paths carried the link
    targets and emphasis marks, which a citation shows and BM25 and the model read with every passage."""
    text = (
        "# [1.13.0](https://github.com/axios/axios/compare/v1.12.2...v1.13.0) (2025-10-27)\n\n"
        "## Bug *fixes* in `fetch` ![adapter](icon.png)\n\nThe fetch adapter honours timeouts again.\n"
    )
    sections, _ = markdown_structure(text)
    assert [s.path for s in sections] == ["1.13.0 (2025-10-27)", "1.13.0 (2025-10-27) > Bug fixes in fetch adapter"]
