"""HTML extraction: the article's text without the page around it, with the structure citations need (heading paths,
table rows, line breaks, no invented spaces). Pages are generated here, article-sized: trafilatura, which decides
what is content, judges tiny pages differently from real ones."""

from __future__ import annotations

import quopri
import random
from pathlib import Path

import pytest

from rag.ingest.formats.extracted import load_extracted
from rag.ingest.formats.html import MAX_HTML_DEPTH
from rag.types import Document, SkippedFile

SUBJECTS = ["The survey team", "Each lighthouse keeper", "The harbour council", "A visiting engineer", "The ferry crew"]
VERBS = ["measured", "repainted", "documented", "inspected", "rebuilt", "questioned", "catalogued", "surveyed"]
OBJECTS = ["the northern breakwater", "the copper tide gauges", "every signal lamp on the pier", "the old boathouse"]
TIMES = ["before the spring storms", "during the night shift", "over three cold weeks", "after the annual regatta"]


def prose(topic: str, sentences: int, seed: int) -> str:
    """Varied, article-like sentences about ``topic`` (deterministic)."""
    rng = random.Random(f"{topic}-{seed}")
    return " ".join(
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} near {topic} {rng.choice(TIMES)}, "
        f"and noted {rng.randint(2, 950)} details in report {seed}-{i}."
        for i in range(sentences)
    )


def paragraphs(topic: str, count: int, seed: int = 0) -> str:
    return "\n".join(f"<p>{prose(topic, 4, seed * 100 + i)}</p>" for i in range(count))


NAV = (
    '<nav class="menu"><ul>'
    + "".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in ["Home", "Harbour news", "Timetables", "Contact"])
    + "</ul></nav>"
)
FOOTER = (
    '<footer class="site-footer"><p>Copyright 2024 Harbour Gazette Ltd. All rights reserved.</p>'
    '<ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/imprint">Imprint</a></li></ul></footer>'
)
COOKIES = (
    '<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your reading experience.</p>'
    "<button>Accept all cookies</button></div>"
)


def page(title: str, body: str, *, head: str = "", around: bool = True) -> str:
    """A whole page: <head> with a <title>, the site's header, menu, footer and cookie banner around ``body``."""
    site = '<header class="site"><a href="/">Harbour Gazette</a></header>' + NAV if around else ""
    end = FOOTER + COOKIES if around else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} | Harbour Gazette</title>{head}'
        f"</head><body>{site}{body}{end}</body></html>"
    )


def extract(html: str | bytes) -> Document:
    data = html.encode("utf-8") if isinstance(html, str) else html
    results = list(load_extracted(Path("x.html"), data))
    documents = [r for r in results if isinstance(r, Document)]
    assert len(documents) == 1, results
    return documents[0]


def skip_reason(html: str | bytes, name: str = "x.html") -> str:
    data = html.encode("utf-8") if isinstance(html, str) else html
    results = list(load_extracted(Path(name), data))
    assert len(results) == 1 and isinstance(results[0], SkippedFile), results
    return results[0].reason


def path_of(doc: Document, text: str) -> str:
    """The heading path of the section holding ``text``."""
    at = doc.text.index(text)
    return next(s.path for s in doc.sections if s.start <= at < s.end)


def article_page() -> str:
    """A long post with nested headings, a table, a bold pseudo-heading, line breaks, code and inline markup."""
    table = (
        "<table><caption>Tide gauge readings</caption><thead><tr><th>Gauge</th><th>Height (m)</th></tr></thead>"
        "<tbody><tr><td>North pier</td><td>4.2</td></tr><tr><td>South pier</td><td>3.9</td></tr></tbody></table>"
    )
    body = (
        '<div class="toc"><h2>Contents</h2><ul><li><a href="#history">History</a></li>'
        '<li><a href="#repairs">Repairs</a></li></ul></div>'
        f"<article><h1>Restoring the Vennholm breakwater</h1>{paragraphs('Vennholm', 3, 1)}"
        f'<h2 id="history">History of the pier</h2>{paragraphs("the old pier", 2, 2)}'
        "<p>The pier was built by <a href='/people/tollan'>Aske Tollan</a>. Later, <em>Maren Holt</em>, "
        "the harbour master, extended it (see <a href='/maps'>the 1902 map</a>).</p>"
        f"<h3>Early surveys</h3>{paragraphs('the early surveys', 2, 3)}"
        f'<h2 id="repairs">Repairs and measurements</h2>{paragraphs("the repairs", 2, 4)}'
        f"{table}{paragraphs('the readings', 1, 5)}"
        f"<p><strong>How long will the repairs last?</strong></p>{paragraphs('the forecast', 2, 6)}"
        "<p>Harbour office<br>Quay Street 4<br>Vennholm</p>"
        "<pre>tide = read_gauge('north')\nif tide > 4.0:\n    close_gate()</pre>"
        f"{paragraphs('the closing remarks', 2, 7)}</article>"
    )
    return page("Restoring the Vennholm breakwater", body)


@pytest.fixture(scope="module")
def article() -> Document:
    return extract(article_page())


def test_the_real_post_is_found_when_the_first_article_is_a_sidebar_teaser() -> None:
    teaser = (
        '<div class="sidebar"><article class="teaser"><h2><a href="/other">Ferry timetable changes</a></h2>'
        "<p>Winter ferries leave earlier from quay two.</p></article></div>"
    )
    post = f'<div class="content"><article><h1>The Skarv lighthouse log</h1>{paragraphs("Skarv", 6, 9)}</article></div>'
    doc = extract(page("The Skarv lighthouse log", teaser + post))
    assert doc.text.startswith("The Skarv lighthouse log\n\n")
    assert prose("Skarv", 4, 900) in doc.text and prose("Skarv", 4, 905) in doc.text
    for boilerplate in ["Winter ferries", "Ferry timetable", "Harbour news", "Timetables", "Copyright 2024"]:
        assert boilerplate not in doc.text


def test_a_docbook_sidebar_between_kept_paragraphs_is_kept() -> None:
    """trafilatura discards any element whose class says "sidebar"; DocBook calls its boxes in the text that, and
    a whole explanation was lost. A long paragraph between kept ones stays; the page's own sidebar does not."""
    box = "<p><strong>BACK TO BASICS</strong> Priorities</p>" + f"<p>{prose('the niceness levels', 3, 77)}</p>"
    menu = '<ul><li><a href="/cron">Scheduling with cron</a></li><li><a href="/at">The at command</a></li></ul>'
    section = (
        f'<div class="section"><h2>Scheduling with anacron</h2>{paragraphs("anacron", 2, 5)}'
        f'<div class="sidebar">{box}</div>{paragraphs("anacron", 2, 6)}</div>'
    )
    doc = extract(page("Scheduling with anacron", f'<div class="sidebar">{menu}</div>{section}'))
    assert prose("the niceness levels", 3, 77) in doc.text
    assert all(prose("anacron", 4, seed) in doc.text for seed in (500, 501, 600, 601))
    assert "Scheduling with cron" not in doc.text and "The at command" not in doc.text


def test_a_table_of_data_set_in_a_table_between_kept_paragraphs_is_kept_and_a_box_of_links_is_not() -> None:
    """trafilatura drops a table set in tables (LWN sets its statistics side by side in a table, and its articles
    in the page's layout table), and the figures an article is about were lost. A table of data between kept
    paragraphs stays; a navigation box of links (a wiki's) does not."""

    def stats(title: str, people: list[str]) -> str:
        rows = "".join(
            f"<tr><td>{name}</td><td>{10 * i + 7}</td><td>{i + 1}.5%</td></tr>" for i, name in enumerate(people)
        )
        return f'<table cellspacing="3"><tr><th colspan="3">{title}</th></tr>{rows}</table>'

    keepers = ["Aske Tollan", "Maren Holt", "Sigrun Vale"]
    nested = (
        '<blockquote><table><tr><th colspan="2">Most active keepers</th></tr><tr>'
        f"<td>{stats('By nights on duty', keepers)}</td><td>{stats('By log entries', keepers[::-1])}</td></tr>"
        "</table></blockquote>"
    )
    links = " · ".join(f'<a href="/wiki/{n}">{n} lighthouse</a>' for n in ["Skarv", "Vennholm", "Tollan", "Holt"])
    navbox = (
        f'<div role="navigation" class="navbox"><table class="nowraplinks"><tr><th>Lighthouses</th><td>{links}</td>'
        '</tr><tr><th>Portals</th><td><a href="/wiki/Coast">Coast portal</a></td></tr></table></div>'
    )
    body = f"<div class='ArticleText'><h1>Keeping the Skarv light</h1>{paragraphs('Skarv', 3, 27)}{nested}"
    body += f"{paragraphs('the keepers', 3, 28)}{navbox}{paragraphs('the log', 2, 29)}</div>"
    doc = extract(page("Keeping the Skarv light", f"<table><tr><td class='MidColumn'>{body}</td></tr></table>"))
    assert "Aske Tollan | 7 | 1.5%" in doc.text and "Sigrun Vale | 7 | 1.5%" in doc.text
    assert doc.text.index("By nights on duty") < doc.text.index(prose("the keepers", 4, 2800))
    assert "Vennholm lighthouse" not in doc.text and "Coast portal" not in doc.text


def test_paragraphs_of_loose_text_and_inline_code_are_all_kept() -> None:
    """trafilatura returns a paragraph written as a ``<div>`` of text and inline ``<code>`` as loose text, not as a
    block: the article's container was found by its one ``<p>`` alone, and every other paragraph was lost (a
    Japanese page of the Debian Handbook kept 272 of its 2,140 characters)."""
    loose = "".join(f'<div class="para"><code>anacron</code> {prose("anacron", 4, seed)}</div>' for seed in (70, 71))
    last = f'<div class="para"><p>{prose("anacron", 4, 99)}</p></div>'
    section = f'<div class="section"><h2>Scheduling with anacron</h2>{loose}{last}</div>'
    doc = extract(page("Scheduling with anacron", section))
    assert all(prose("anacron", 4, seed) in doc.text for seed in (70, 71, 99))


def test_an_articles_lead_that_trafilatura_dropped_is_kept() -> None:
    """A news page's lead, written as loose text after a box of related links (Yahoo's wire stories: a <div> in a
    <p>, which the parser closes), was dropped with the box: the article lost the one paragraph that says what it is
    about. The box's links stay out."""
    lead = "HARBOUR TOWN (AP) — " + prose("the Skarv lighthouse", 2, 12)
    related = (
        '<div class="related"><h3>Related Content</h3><ul>'
        + "".join(f'<li><a href="/story{i}">Article: Ferry timetable {i} changes</a></li>' for i in range(4))
        + "</ul></div>"
    )
    body = f'<div class="bd"><p><div class="col">{related}</div>{lead}{paragraphs("Skarv", 5, 13)}</div>'
    article = f'<div class="article-content"><h1>Skarv lighthouse closes</h1>{body}</div>'
    doc = extract(page("Skarv lighthouse closes", article))
    assert lead in doc.text
    assert doc.text.index(lead) < doc.text.index(prose("Skarv", 4, 1300))
    assert "Ferry timetable" not in doc.text and "Copyright 2024" not in doc.text


def test_the_heading_of_a_box_of_links_opens_no_section_over_the_story_after_it() -> None:
    """A heading is kept when content follows it, but "Related Content" heads a box whose links trafilatura
    dropped: the story after the box was cited under it. A heading stays only when what follows lies in its box; a
    bold paragraph read as a heading (bash's manual sets a list of symbols so) keeps its text, as a paragraph."""
    links = "".join(f'<li><a href="/story{i}">Ferry timetable {i} changes this winter</a></li>' for i in range(4))
    box = f'<div class="related"><div class="hd"><h3>Related Content</h3></div><ul>{links}</ul></div>'
    story = f'<div class="story"><h1>Skarv lighthouse closes</h1>{box}{paragraphs("Skarv", 5, 15)}'
    story += f"<h2>What happens next</h2>{paragraphs('the tender', 3, 16)}</div>"
    doc = extract(page("Skarv lighthouse closes", story))
    assert "Related Content" not in doc.text
    assert path_of(doc, prose("Skarv", 4, 1500)) == "Skarv lighthouse closes"
    assert path_of(doc, prose("the tender", 4, 1600)) == "Skarv lighthouse closes > What happens next"
    symbols = "| &amp; ; ( ) &lt; &gt; space tab newline"
    terms = (
        f"<dl><dt>metacharacter</dt><dd>{prose('the shell', 2, 17)} One of the following:<p><b>{symbols}</b></p></dd>"
        f"<dt>control operator</dt><dd>{prose('the shell', 2, 18)}</dd></dl>"
    )
    manual = extract(
        page("Definitions", f'<div class="manual"><h2>Definitions</h2>{terms}{paragraphs("bash", 4, 19)}</div>')
    )
    assert "| & ; ( ) < > space tab newline" in manual.text and {s.path for s in manual.sections} == {"Definitions"}


def test_the_standfirst_above_the_body_is_kept_when_it_is_the_pages_description() -> None:
    """News pages set a summary between the headline and the body (Ars Technica's subtitle, Le Figaro's chapo),
    outside the body trafilatura reads. When it reads as the page's og:description it is kept, after the title; a
    description that the page does not show adds nothing."""
    summary = "Keepers fear the old Skarv lamp will not survive another winter of northern storms."
    header = f'<header class="article-header"><h1>Skarv lighthouse closes</h1><p class="chapo">{summary}</p></header>'
    body = f'<div class="article-content">{paragraphs("Skarv", 5, 14)}</div>'
    head = f'<meta property="og:description" content="{summary}">'
    doc = extract(page("Skarv lighthouse closes", f"<article>{header}{body}</article>", head=head))
    assert doc.text.startswith(f"Skarv lighthouse closes\n\n{summary}\n\n{prose('Skarv', 4, 1400)}")
    unseen = extract(page("Skarv lighthouse closes", f"<article><h1>Skarv lighthouse closes</h1>{body}</article>",
                          head=head))  # fmt: skip
    assert summary not in unseen.text


def test_an_intro_between_the_headline_and_the_body_is_kept() -> None:
    """Magazines set an intro paragraph apart between the headline and the body ("o-article__intro"), outside the
    container that holds most of what trafilatura kept; it opens the article, after its title."""
    intro = "Keepers of the Skarv lamp say the old light will not survive another winter of northern storms this year."
    body = f'<div class="ce_text block">{paragraphs("Skarv", 8, 21)}</div>'
    article = (
        '<div class="mod_article block"><h1 class="ce_headline">Skarv lighthouse closes</h1>'
        f'<div class="ce_articleIntro block"><p>{intro}</p></div>{body}</div>'
    )
    doc = extract(page("Skarv lighthouse closes", article))
    assert doc.text.startswith(f"Skarv lighthouse closes\n\n{intro}\n\n{prose('Skarv', 4, 2100)}")
    assert "Harbour news" not in doc.text and "Copyright" not in doc.text


def test_a_standfirst_or_pull_quote_set_as_a_heading_and_a_closing_bold_line_are_text() -> None:
    """A heading with no section under it is dropped as a heading; when it is a sentence (a standfirst set as an
    <h4> above the first subheading, pull quotes set as <h4>s after the last paragraph) or a closing bold
    paragraph, its text is kept. Teasers' linked headlines are not."""
    standfirst = "Our reporter spent three cold weeks with the keepers of the last manned lighthouse on the coast."
    quotes = [
        "The lamp has not failed once in ninety years, and nobody here wants to be the first to see it fail.",
        "Every keeper writes the weather into the log twice a day, and the log has never missed a single entry.",
    ]
    body = (
        f"<article><h1>A winter on Skarv</h1><h4>{standfirst}</h4><h4>The keepers</h4>"
        f"<div class='text'>{paragraphs('Skarv', 6, 22)}{''.join(f'<h4>{quote}</h4>' for quote in quotes)}</div>"
        f"<h2>What the keepers say</h2>{paragraphs('the lamp', 2, 3)}</article>"
    )
    doc = extract(page("A winter on Skarv", body))
    assert doc.text.startswith(f"A winter on Skarv\n\n{standfirst}\n\nThe keepers\n\n")
    assert f"{prose('Skarv', 4, 2205)}\n\n{quotes[0]}\n\n{quotes[1]}\n\nWhat the keepers say\n\n" in doc.text
    assert path_of(doc, quotes[1]) == "A winter on Skarv > The keepers"

    teasers = "".join(f'<li><h4><a href="/{i}">Ferry timetable changes number {i} for the winter</a></h4></li>'
                      for i in range(3))  # fmt: skip
    body = (
        f"<article><h1>A winter on Skarv</h1>{paragraphs('Skarv', 6, 23)}<p><strong>See you on the pier!</strong>"
        f"</p><ul class='more'>{teasers}</ul></article>"
    )
    doc = extract(page("A winter on Skarv", body))
    assert doc.text.rstrip().endswith(f"{prose('Skarv', 4, 2305)}\n\nSee you on the pier!")


def test_a_formulas_tex_source_is_not_read_and_its_section_keeps_its_heading() -> None:
    """Wikipedia sets each formula as MathML, hidden behind an image, with its TeX source in an <annotation>,
    which browsers never show: "Given a set of N {\\displaystyle N} objects" was indexed."""

    def formula(tex: str, symbol: str) -> str:
        return (
            '<span class="mwe-math-element"><span style="display: none;"><math><semantics><mrow><mi>'
            f'{symbol}</mi></mrow><annotation encoding="application/x-tex">{{\\displaystyle {tex}}}</annotation>'
            f'</semantics></math></span><img class="mwe-math-fallback-image-inline" alt="{symbol}" src="f.svg"></span>'
        )

    details = (
        f"<p>Given a set of {formula('N', 'N')} high-dimensional objects {formula('x_i', 'x')}, the method first "
        f"computes probabilities that are proportional to the similarity of the objects. {prose('Skarv', 3, 24)}</p>"
    )
    body = f"<h1>Stochastic embedding</h1>{paragraphs('Skarv', 3, 25)}<h2>Details</h2>{details}"
    body += paragraphs("the method", 3, 26)
    doc = extract(page("Stochastic embedding", f"<main>{body}</main>"))
    assert "displaystyle" not in doc.text and "x_i" not in doc.text
    assert "Given a set of N high-dimensional objects x, the method" in doc.text
    assert path_of(doc, "Given a set of N") == "Stochastic embedding > Details"


def test_an_article_written_as_loose_text_between_br_tags_is_found() -> None:
    """Some sites write an article as runs of text between ``<br>`` tags in one ``<div>``; trafilatura makes each
    run a paragraph, which no element of the page begins, so no container was found and the whole page was walked,
    its menus of sections and topics included (a third of one real page's words)."""
    sections = "".join(f'<a href="/{w}">{w.title()} Desk</a> ' for w in ["world", "science", "weather", "archive"])
    menu = f'<div class="menu"><h3>Sections</h3><div class="links">{sections}</div></div>'
    runs = "<br><br>".join(prose("the Skarv lighthouse", 3, seed) for seed in range(40, 46))
    body = f'<div class="article-body"><div class="caption">Photo: the lamp room</div> <em>{prose("Skarv", 2, 39)}</em>'
    body += f"<br><br>{runs}</div>"
    doc = extract(page("Skarv lighthouse closes", f"{menu}<h1>Skarv lighthouse closes</h1>{body}"))
    assert all(prose("the Skarv lighthouse", 3, seed) in doc.text for seed in range(40, 46))
    assert "Science Desk" not in doc.text and "Sections" not in doc.text


def test_a_page_run_into_one_block_that_begins_with_its_menu_keeps_its_text() -> None:
    """latex2html pages (gnuplot's manual) put a navigation panel and then loose text in <body>; trafilatura returns
    them as one block, whose first words matched the panel alone, and the page was indexed as its menu."""
    panel = (
        '<div class="navigation"><a href="n2.html"><img alt="next" src="next.png"></a><br>'
        '<b>Next:</b> <a href="n2.html">Color_resources</a> <b>Up:</b> <a href="n0.html">Terminals</a> '
        '<b>Previous:</b> <a href="n1.html">Command-line_options</a><br><br></div>'
    )
    text = prose("the monochrome displays", 2, 41)
    body = f'{panel}<h3><a id="s1">Monochrome_options</a></h3><a id="x"></a>{text}<p><br><hr>'
    doc = extract(f"<html><head><title>Monochrome_options</title></head><body>{body}</body></html>")
    assert text in doc.text


def test_permalink_anchors_are_dropped_and_sphinx_api_entries_kept() -> None:
    """Sphinx (and MkDocs, Hugo, ...) put a link to each heading's and definition's own place beside it, "¶": it
    ended up in section paths, and trafilatura took the API entries holding one for links and dropped them."""
    permalink = '<a class="headerlink" href="#{0}" title="Permalink to this definition">¶</a>'
    entries = "".join(
        f'<dl class="c macro"><dt id="c.{name}"><span>{name}</span>{permalink.format("c." + name)}</dt>'
        f"<dd><p>{description}</p></dd></dl>"
        for name, description in [
            ("Py_None", "The Python None object, denoting lack of value. This object has no methods."),
            ("Py_RETURN_NONE", "Properly handle returning Py_None from within a C function."),
        ]
    )
    body = (
        f'<div class="body"><section id="the-none-object"><h1>The None Object{permalink.format("the-none-object")}</h1>'
        f"<p>{prose('the None object', 3, 61)}</p>{entries}</section></div>"
        '<div class="sphinxsidebar"><h4>Previous topic</h4><p><a href="type.html">Type Objects</a></p></div>'
    )
    doc = extract(page("The None Object", body, around=False))
    assert "¶" not in doc.text and all("¶" not in s.path for s in doc.sections)
    assert "Py_RETURN_NONE\n\nProperly handle returning Py_None from within a C function." in doc.text
    assert "The Python None object, denoting lack of value." in doc.text
    assert path_of(doc, "Properly handle") == "The None Object"


def test_mediawiki_edit_links_stay_out_of_headings() -> None:
    """MediaWiki (Wikipedia and every wiki built on it) writes "[edit]" inside each heading: section paths read
    "Plot[edit]"."""
    edit = (
        '<span class="mw-editsection"><span class="mw-editsection-bracket">[</span>'
        '<a href="/w/index.php?title=Skarv&amp;action=edit&amp;section={0}" title="Edit section">edit</a>'
        '<span class="mw-editsection-bracket">]</span></span>'
    )
    sections = "".join(
        f'<h2><span class="mw-headline" id="{name}">{name}</span>{edit.format(i)}</h2>{paragraphs(name, 3, 30 + i)}'
        for i, name in enumerate(["History", "Keepers"])
    )
    body = (
        f'<div id="content"><h1 id="firstHeading">Skarv lighthouse</h1><div id="mw-content-text">{sections}</div></div>'
    )
    doc = extract(page("Skarv lighthouse", body))
    assert "edit" not in doc.text
    assert path_of(doc, prose("Keepers", 4, 3100)) == "Skarv lighthouse > Keepers"


def test_a_title_broken_by_br_is_one_heading_with_a_space() -> None:
    """Javadoc writes "Uses of Class<br>org.apache...": the title was read without the <br> ("Classorg") and,
    unlike the heading the walk wrote, opened a second section above it."""
    body = f"<main><h1>Uses of Class<br>org.harbour.Permit</h1>{paragraphs('the permit class', 3, 8)}</main>"
    doc = extract(page("Uses of Class org.harbour.Permit", body, around=False))
    assert doc.text.startswith("Uses of Class org.harbour.Permit\n\n")
    assert [s.path for s in doc.sections] == ["Uses of Class org.harbour.Permit"]


def test_a_header_inside_the_article_keeps_its_title_as_the_root_of_every_section_path() -> None:
    body = (
        "<article><header><h1>Counting seals at Orrin</h1><p>Why the colony doubled in ten years</p></header>"
        f"{paragraphs('Orrin', 3, 11)}<h2>Method</h2>{paragraphs('the counting method', 3, 12)}</article>"
    )
    doc = extract(page("Counting seals at Orrin", body))
    assert doc.text.startswith("Counting seals at Orrin\n\nWhy the colony doubled in ten years\n\n")
    assert doc.text.count("Counting seals at Orrin") == 1
    assert doc.sections and all(s.path.startswith("Counting seals at Orrin") for s in doc.sections)
    assert path_of(doc, prose("the counting method", 4, 1200)) == "Counting seals at Orrin > Method"


def test_a_themes_site_name_h1_is_not_taken_for_the_article_title() -> None:
    body = (
        '<div class="branding"><h1 class="site-title">Harbour Gazette</h1></div>'
        f'<article><h2 class="entry-title">Counting seals at Orrin</h2>{paragraphs("Orrin", 5, 13)}</article>'
    )
    doc = extract(
        page("Counting seals at Orrin", body, head='<meta property="og:title" content="Counting seals at Orrin">')
    )
    assert {s.path for s in doc.sections} == {"Counting seals at Orrin"} and "Harbour Gazette" not in doc.text


@pytest.mark.parametrize("headline", ['<h4 class="post_title">{}</h4>', '<div class="post_title">{}</div>'])
def test_a_site_name_h1_gives_way_to_a_lower_headline_or_to_og_title(headline: str) -> None:
    """Engadget's pages have one <h1>, the site's name, and the headline in an <h4>: every passage was cited under
    "Engadget". A lower heading contained in og:title is the title; failing that, og:title itself, when the <h1> is
    the shorter and <title> holds it (the site's name); a marketing og:title unlike the page's <h1> does not."""
    title = "Counting seals at Orrin before the spring storms"
    story = f'<div class="post">{headline.format(title)}{paragraphs("Orrin", 5, 20)}</div>'
    body = f'<div id="header"><h1><a href="/">Harbour Gazette</a></h1></div>{story}'
    head = f'<meta property="og:title" content="{title}">'
    doc = extract(page(title, body, head=head))  # <title> is "{title} | Harbour Gazette"
    assert {s.path for s in doc.sections} == {title} and doc.text.startswith(f"{title}\n\n")
    own = f"<article><h1>Make the harbour your own</h1>{paragraphs('Orrin', 5, 21)}</article>"
    marketed = extract(page("Harbour Gazette", own, head=head, around=False))
    assert {s.path for s in marketed.sections} == {"Make the harbour your own"}


def test_of_two_h1s_that_title_holds_the_headline_is_the_title() -> None:
    """Prachatai's pages have two <h1>s, the site's name and the headline, and <title> holds both ("Headline |
    Site"): the first was taken, and every passage was cited under the site's name."""
    title = "Counting seals at Orrin before the spring storms"
    body = f'<div id="brand"><h1>Harbour</h1></div><div class="node"><h1 class="title">{title}</h1>'
    body += f"{paragraphs('Orrin', 5, 22)}</div>"
    doc = extract(f"<html><head><title>{title} | Harbour Gazette</title></head><body>{body}</body></html>")
    assert {s.path for s in doc.sections} == {title}


def test_br_and_pre_line_breaks_are_kept(article: Document) -> None:
    assert "Harbour office\nQuay Street 4\nVennholm" in article.text
    assert "tide = read_gauge('north')\nif tide > 4.0:\nclose_gate()" in article.text


def test_no_space_is_inserted_around_inline_tags(article: Document) -> None:
    expected = "built by Aske Tollan. Later, Maren Holt, the harbour master, extended it (see the 1902 map)."
    assert expected in article.text


def test_menus_contents_footer_and_cookie_banner_are_left_out(article: Document) -> None:
    for boilerplate in ["Harbour news", "Timetables", "Contents", "Copyright 2024", "Privacy policy", "cookies"]:
        assert boilerplate not in article.text
    assert article.title == "Restoring the Vennholm breakwater | Harbour Gazette"


def test_a_table_keeps_its_rows_and_its_section(article: Document) -> None:
    assert len(article.tables) == 1
    table = article.tables[0]
    assert article.text[table.start : table.end] == "Gauge | Height (m)\nNorth pier | 4.2\nSouth pier | 3.9"
    assert "Tide gauge readings\n\nGauge | Height (m)" in article.text  # the caption, just before it
    assert path_of(article, "North pier | 4.2") == "Restoring the Vennholm breakwater > Repairs and measurements"


def test_nested_headings_give_section_paths(article: Document) -> None:
    title = "Restoring the Vennholm breakwater"
    assert article.text.startswith(title + "\n\n")
    assert path_of(article, prose("Vennholm", 4, 100)) == title
    assert path_of(article, prose("the old pier", 4, 200)) == f"{title} > History of the pier"
    assert path_of(article, prose("the early surveys", 4, 300)) == f"{title} > History of the pier > Early surveys"
    assert path_of(article, prose("the repairs", 4, 400)) == f"{title} > Repairs and measurements"


def test_a_short_bold_paragraph_opens_a_section_below_the_last_heading(article: Document) -> None:
    expected = "Restoring the Vennholm breakwater > Repairs and measurements > How long will the repairs last?"
    assert path_of(article, prose("the forecast", 4, 600)) == expected


def test_repeated_extraction_gives_the_same_text_and_spans(article: Document) -> None:
    seals = page("Counting seals", f"<article><h1>Counting seals</h1>{paragraphs('Orrin', 5, 3)}</article>")
    first_seals = extract(seals)
    for _ in range(2):  # interleaved with another page: no cache of trafilatura's may drop text seen before
        again = extract(article_page())
        assert (again.text, again.sections, again.tables) == (article.text, article.sections, article.tables)
        assert extract(seals).text == first_seals.text


def test_if_main_content_detection_fails_the_page_is_still_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    def explode(*args, **kwargs):
        raise RuntimeError("heuristic fell over")

    monkeypatch.setattr(trafilatura, "bare_extraction", explode)
    body = (
        "<main><article><header><h1>Counting seals at Orrin</h1><p>Why the colony doubled in ten years</p></header>"
        f"{paragraphs('Orrin', 2, 11)}"
        f"<h2>Method</h2>{paragraphs('the counting method', 2, 12)}</article></main>"
    )
    doc = extract(page("Counting seals at Orrin", body))
    assert doc.text.startswith("Counting seals at Orrin\n\nWhy the colony doubled in ten years\n\n")  # its <header>
    assert path_of(doc, prose("the counting method", 4, 1200)) == "Counting seals at Orrin > Method"
    for boilerplate in ["Harbour Gazette", "Harbour news", "Copyright 2024"]:
        assert boilerplate not in doc.text


def test_a_page_past_the_element_limit_is_walked_plainly_without_main_content_detection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """trafilatura's time grows with the square of the element count: a huge page is read without it."""
    import trafilatura

    import rag.ingest.formats.html as html_format

    def refuse(*args, **kwargs):
        raise AssertionError("main-content detection must not run on a page past the element limit")

    body = (
        "<main><article><h1>Counting seals at Orrin</h1>"
        f"{paragraphs('Orrin', 2, 11)}<h2>Method</h2>{paragraphs('the counting method', 2, 12)}</article></main>"
    )
    from lxml import html as lxml_html

    elements = sum(1 for _ in lxml_html.document_fromstring(page("Counting seals", body)).iter())
    monkeypatch.setattr(html_format, "MAX_MAIN_CONTENT_ELEMENTS", elements - 1)
    monkeypatch.setattr(trafilatura, "bare_extraction", refuse)
    doc = extract(page("Counting seals", body))
    assert path_of(doc, prose("the counting method", 4, 1200)) == "Counting seals at Orrin > Method"
    for boilerplate in ["Harbour Gazette", "Harbour news", "Copyright 2024"]:
        assert boilerplate not in doc.text


def test_a_page_too_small_for_main_content_detection_is_walked_plainly() -> None:
    doc = extract(page("Note", "<main><h1>Note</h1><p>The gate closes at nine.</p></main>"))
    assert doc.text == "Note\n\nThe gate closes at nine."


def nested(depth: int, inner: str) -> str:
    return "<html><body>" + "<div>" * depth + inner + "</div>" * depth + "</body></html>"


def test_deep_pages_are_walked_without_recursion_and_pages_past_the_parsers_depth_are_refused() -> None:
    text = prose("the well", 12, 1)
    assert extract(nested(MAX_HTML_DEPTH - 100, f"<p>{text}</p>")).text == text  # far past Python's recursion limit
    for depth in (3_000, 5_000):
        reason = skip_reason(nested(depth, "The well is dry."))
        assert reason.startswith(f"elements nested {depth:,} deep; pages nested over {MAX_HTML_DEPTH:,} deep")
    # inline tags left open are not counted before parsing; the parser's own limit catches them
    assert "nested over 2,048 deep" in skip_reason("<html><body><p>x" + "<b>" * 3_000 + "deep</p></body></html>")


def test_a_charset_declared_after_a_long_head_is_honoured() -> None:
    script = f"<script>{'var x = 1;' * 600}</script>"  # the declaration comes 6 kB into the page
    html = page("Café", f"<article><h1>Café Grünwald</h1>{paragraphs('the café', 4, 2)}</article>").replace(
        '<meta charset="utf-8">', script + '<meta http-equiv="Content-Type" content="text/html; charset={}">'
    )
    assert extract(html.format("iso-8859-1").encode("iso-8859-1")).text.startswith("Café Grünwald\n\n")
    broken = html.format("utf-8").encode("utf-8").replace("Grünwald".encode(), b"Gr\xfcnwald")
    document, note = load_extracted(Path("x.html"), broken)
    assert document.text.startswith("Café Gr\ufffdnwald\n\n")  # as a browser shows it, the rest intact
    assert isinstance(note, SkippedFile) and note.reason.startswith(
        "declares charset utf-8 but 1 byte sequence(s) are not valid utf-8 (the first at byte"
    )


@pytest.mark.parametrize(
    ("heading", "body", "encoding"),
    [
        ("Über uns – Gärtnerei", paragraphs("the garden", 4, 6), "cp1252"),  # not one byte of it is UTF-8
        # "Пё" in windows-1251 is the bytes CF B8, valid UTF-8 ("ϸ"): a few such pairs must not make it UTF-8
        ("Пётр и Сёма в Москве", "<p>" + "Вчера в Москве Пётр Семёнов рассказал о погоде и климате. " * 6 + "</p>",
         "cp1251"),
    ],
)  # fmt: skip
def test_a_page_in_another_encoding_than_it_declares_is_read_in_its_own(heading: str, body: str, encoding: str) -> None:
    """A template's "UTF-8" over content saved in a legacy encoding: the bytes decide."""
    html = page("x", f"<article><h1>{heading}</h1>{body}</article>")
    assert extract(html.encode(encoding)).text.startswith(f"{heading}\n\n")


def test_an_xhtml_page_with_an_xml_declaration_is_read() -> None:
    html = '<?xml version="1.0" encoding="utf-8"?>\n' + page("Tides", f"<h1>Tides</h1>{paragraphs('tides', 3)}")
    assert extract(html).text.startswith("Tides\n\n")


@pytest.mark.parametrize(
    ("label", "encoding", "heading"),
    [
        ("iso-8859-1", "cp1252", "The \u201cCafé\u201d \u2013 Grünwald €"),  # curly quotes, dash, euro: cp1252 only
        ("euc-kr", "cp949", "똠방각하 서울 카페"),  # 똠 is in windows-949, not in EUC-KR proper
        ("gb2312", "gb18030", "咖啡馆 镕 北京"),  # 镕 is in GBK, not in GB2312
        ("shift_jis", "cp932", "髙橋の喫茶店 東京"),  # 髙 (in names) is a windows-31J extension
    ],
)
def test_a_declared_charset_is_read_as_browsers_read_it(label: str, encoding: str, heading: str) -> None:
    """Pages declare the strict standard and use its Windows superset; a browser shows the superset's characters,
    where Python's codec of the declared name would refuse the page or show control characters."""
    html = page("x", f"<article><h1>{heading}</h1>{paragraphs('the harbour', 4, 3)}</article>")
    data = html.replace('<meta charset="utf-8">', f'<meta charset="{label}">').encode(encoding)
    with pytest.raises(UnicodeDecodeError if label != "iso-8859-1" else AssertionError):
        assert data.decode(label) == html  # the strict codec alone gets it wrong
    assert extract(data).text.startswith(f"{heading}\n\n")


@pytest.mark.parametrize("label", ["iso-8859-1", "windows-1251", "shift_jis"])
def test_a_page_in_utf8_under_a_legacy_declaration_is_read_as_utf8(label: str) -> None:
    """A site moved to UTF-8 whose template still declares its old charset: browsers show "CafÃ©"; the bytes are
    valid UTF-8 throughout, which legacy text practically never is."""
    html = page("x", f"<article><h1>Café Grünwald – Пётр, 東京</h1>{paragraphs('the harbour', 4, 8)}</article>")
    data = html.replace('<meta charset="utf-8">', f'<meta charset="{label}">').encode("utf-8")
    assert extract(data).text.startswith("Café Grünwald – Пётр, 東京\n\n")


def test_a_page_declaring_utf16_in_ascii_bytes_is_read_as_utf8() -> None:
    html = page("x", f"<article><h1>Grünwald café</h1>{paragraphs('the café', 4, 4)}</article>")
    assert extract(html.replace('charset="utf-8"', 'charset="utf-16"')).text.startswith("Grünwald café\n\n")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_utf16_or_utf32_page_is_read(encoding: str) -> None:
    html = page("x", f"<article><h1>Grünwald café</h1>{paragraphs('the café', 4, 5)}</article>")
    assert extract(html.encode(encoding)).text.startswith("Grünwald café\n\n")


def _chrome_mhtml(html_quoted_printable: str) -> bytes:
    """A page as Chrome saves it as "Webpage, Single File": MIME parts, the page quoted-printable, then a style
    sheet and an image."""
    boundary = "----MultipartBoundary--Vk8nQ1pYl0oOAn0jPbRNJlLzKPRXhJ6ULfO4vkXrSd----"
    return (
        "From: <Saved by Blink>\r\nSnapshot-Content-Location: https://harbour.example/skarv\r\n"
        "Subject: The Skarv lighthouse log\r\nDate: Tue, 1 Dec 2026 10:00:00 -0000\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/related;\r\n\ttype="text/html";\r\n\tboundary="{boundary}"\r\n\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/html\r\nContent-ID: <frame-1@mhtml.blink>\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\nContent-Location: https://harbour.example/skarv\r\n\r\n"
        f"{html_quoted_printable}\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/css\r\nContent-Transfer-Encoding: quoted-printable\r\n"
        "Content-Location: https://harbour.example/site.css\r\n\r\nbody { font-family: serif; }\r\n\r\n"
        f"--{boundary}\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Location: https://harbour.example/lamp.png\r\n\r\niVBORw0KGgo=\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode("ascii")


def test_a_page_saved_as_one_file_mhtml_is_read_like_the_page() -> None:
    """Browsers save a page as one file (MHTML: Chrome's "Webpage, Single File", Edge's web archive); its page is
    the first HTML part, quoted-printable (``=3D`` for "=", ``=`` at a line end joins lines), in the charset the
    page declares."""
    article = f"<h1>The Skarv lighthouse log</h1>{paragraphs('Skarv', 4, 9)}<p>Le phare de Skarv a été repeint.</p>"
    page_html = page("The Skarv lighthouse log", f"<article>{article}</article>")
    encoded = quopri.encodestring(page_html.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    assert "=3D" in encoded and "=\r\n" in encoded  # what the reader must undo
    results = list(load_extracted(Path("skarv.mhtml"), _chrome_mhtml(encoded)))
    [doc] = [r for r in results if isinstance(r, Document)]
    assert doc.text.startswith("The Skarv lighthouse log\n\n") and doc.format == "html"
    assert prose("Skarv", 4, 903) in doc.text and "Le phare de Skarv a été repeint." in doc.text
    assert "Harbour news" not in doc.text and "font-family" not in doc.text
    no_page = _chrome_mhtml("").replace(b"text/html", b"text/plain")
    assert skip_reason(no_page, "empty.mht") == "not a readable web archive (MHTML): it holds no HTML page"
    nested = "".join(f'Content-Type: multipart/related; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(3000))
    deep = f"MIME-Version: 1.0\r\n{nested}Content-Type: text/html\r\n\r\n<p>{prose('Skarv', 2, 5)}</p>\r\n"
    assert skip_reason(deep, "deep.mhtml").endswith("its MIME parts are nested too deep")


def test_a_folder_reads_xhtml_pages_and_web_archives(tmp_path: Path) -> None:
    from rag.ingest.loading import load_corpus

    folder = tmp_path / "saved"
    folder.mkdir()
    body = f"<article><h1>The Skarv lighthouse log</h1>{paragraphs('Skarv', 4, 9)}</article>"
    (folder / "log.xhtml").write_text(page("The Skarv lighthouse log", body), encoding="utf-8")
    quoted = quopri.encodestring(page("The Skarv lighthouse log", body).encode()).decode().replace("\n", "\r\n")
    (folder / "log.mhtml").write_bytes(_chrome_mhtml(quoted))
    corpus = load_corpus([folder])
    assert corpus.skipped == []
    assert sorted(Path(d.source).name for d in corpus.documents) == ["log.mhtml", "log.xhtml"]
    assert all(prose("Skarv", 4, 900) in d.text for d in corpus.documents)


def test_items_of_ordered_lists_carry_the_numbers_a_browser_shows() -> None:
    """A browser numbers an ordered list's items (steps, rules, rankings); the numbers are not in the page's text,
    so "step 3" could not be found. They are counted as browsers count: from ``start``, downwards when
    ``reversed``, from an item's ``value``, in the list's ``type``; a nested list counts on its own, a bulleted one
    has none."""
    steps = "".join(f"<li>{prose(topic, 1, i)}</li>" for i, topic in enumerate(["the quay", "the slipway"]))
    body = (
        f"<article><h1>Harbour maintenance</h1>{paragraphs('the harbour', 3)}"
        f'<ol start="3"><li><p>{prose("the lock gates", 2, 7)}</p><ol type="a">{steps}</ol></li>'
        f'<li value="9">{prose("the crane", 1, 8)}</li><li>{prose("the beacon", 1, 9)}</li></ol>'
        f"{paragraphs('the pier', 2, seed=3)}<ol reversed><li>Gold for the ferry crew.</li>"
        f"<li>Silver for the survey team.</li></ol><ul><li>{prose('the dunes', 1, 5)}</li></ul></article>"
    )
    doc = extract(page("Harbour maintenance", body))
    assert f"\n3. {prose('the lock gates', 2, 7)}\n" in doc.text
    assert f"\na. {prose('the quay', 1, 0)}\n\nb. {prose('the slipway', 1, 1)}\n" in doc.text
    assert f"\n9. {prose('the crane', 1, 8)}\n\n10. {prose('the beacon', 1, 9)}\n" in doc.text
    assert "\n2. Gold for the ferry crew.\n\n1. Silver for the survey team." in doc.text
    assert f"\n{prose('the dunes', 1, 5)}" in doc.text
