"""DOCX list numbering: the numbers Word shows before numbered headings and list items ("4.2", "b)", "iii."),
which the file does not hold as text. A paragraph names a list (``w:numId``) and a level (``w:ilvl``), directly or
through its style (how Word numbers headings), and Word counts the list's paragraphs as it lays the document out;
without the count a standard's "4.2 Access control" was indexed as "Access control", and neither a question about
section 4.2 nor the citation's section path could name it.

Counted as Word counts (ECMA-376 part 1, 17.9): lists that share an abstract definition share their counters, a
``w:startOverride`` starts its list anew, a level restarts when a level above it is used (``w:lvlRestart`` may say
otherwise), ``w:lvlText`` places each level's number ("%1.%2") in its own format, or in Arabic numerals where the
level is legal numbering (``w:isLgl``). Bullets are not given: they say nothing a search could use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass(frozen=True)
class _Level:
    """One level of a list (``w:lvl``): where its count starts, how its number is written and placed, what
    follows the number, and the paragraph style it numbers, if any."""

    start: int = 1
    format: str = "decimal"
    text: str = ""
    restart: int | None = None
    """``w:lvlRestart``: the level (1-based) whose use, or that of a level above it, restarts this one; None: any
    level above this one, 0: never."""
    legal: bool = False
    suffix: str = " "
    style: str | None = None

    @classmethod
    def read(cls, lvl: etree._Element) -> _Level:
        restart = _value(lvl, "lvlRestart")
        suffix = {"nothing": "", "space": " ", "tab": " "}.get(_value(lvl, "suff") or "tab", " ")
        return cls(
            start=integer(_value(lvl, "start"), 1),
            format=_value(lvl, "numFmt") or "decimal",
            text=_value(lvl, "lvlText") or "",
            restart=integer(restart, None),
            legal=is_on(lvl.find(W + "isLgl")),
            suffix=suffix,
            style=_value(lvl, "pStyle"),
        )


@dataclass(frozen=True)
class _Instance:
    """A ``w:num``: its abstract definition's id, its levels (the definition's, with any overriding levels), and
    the levels whose count it starts anew (``w:startOverride``)."""

    abstract: str
    levels: dict[int, _Level]
    starts: dict[int, int]

    def level_of_style(self, style: str | None) -> int:
        """The level linked to paragraph style ``style`` (``w:pStyle`` in the level), else the first."""
        return next((ilvl for ilvl, level in self.levels.items() if style and level.style == style), 0)


@dataclass
class ListNumbering:
    """A document's lists and their counts so far: ``label`` is called for each paragraph in reading order."""

    instances: dict[str, _Instance]
    styles: dict[str, tuple[str, int | None]]
    """Paragraph style id to the list (``w:numId``) and level it numbers its paragraphs with, inherited."""
    default_style: str = ""
    counts: dict[str, dict[int, int]] = field(default_factory=dict)
    started: set[tuple[str, int]] = field(default_factory=set)

    @classmethod
    def read(
        cls,
        numbering: etree._Element | None,
        styles: dict[str, tuple[str, int | None]],
        list_styles: dict[str, str],
        default_style: str = "",
    ) -> ListNumbering:
        """From the numbering part (None when the file has none), the paragraph styles' lists (``styles``) and
        the numbering styles' (``list_styles``: style id to ``w:numId``, which an abstract definition linked to a
        style takes its levels from)."""
        if numbering is None:
            return cls({}, styles, default_style)
        abstracts = {a.get(W + "abstractNumId", ""): a for a in numbering.iterchildren(W + "abstractNum")}
        nums = {n.get(W + "numId", ""): n for n in numbering.iterchildren(W + "num")}

        def abstract_of(
            num: etree._Element | None, seen: frozenset[str] = frozenset()
        ) -> tuple[str, dict[int, _Level]]:
            """The abstract definition's id and levels, following a link to a numbering style's list."""
            abstract_id = _value(num, "abstractNumId") or "" if num is not None else ""
            abstract = abstracts.get(abstract_id)
            if abstract is None:
                return abstract_id, {}
            link = _value(abstract, "numStyleLink")
            linked = list_styles.get(link or "")
            if linked is not None and linked not in seen:
                return abstract_of(nums.get(linked), seen | {linked})
            return abstract_id, {
                integer(lvl.get(W + "ilvl"), 0): _Level.read(lvl) for lvl in abstract.iterchildren(W + "lvl")
            }

        instances = {}
        for num_id, num in nums.items():
            abstract_id, levels = abstract_of(num)
            starts = {}
            for override in num.iterchildren(W + "lvlOverride"):
                ilvl = integer(override.get(W + "ilvl"), 0)
                if (start := _value(override, "startOverride")) is not None:
                    starts[ilvl] = integer(start, 1)
                if (lvl := override.find(W + "lvl")) is not None:
                    levels[ilvl] = _Level.read(lvl)
            instances[num_id] = _Instance(abstract_id, levels, starts)
        return cls(instances, styles, default_style)

    def label(self, paragraph: etree._Element, style: str | None) -> str:
        """The number Word shows before ``paragraph`` and what follows it ("4.2 "), or "" (not numbered, or a
        bullet); counts the paragraph."""
        num_id, ilvl = None, None
        if (own := paragraph.find(f"{W}pPr/{W}numPr")) is not None:
            num_id, ilvl = _value(own, "numId"), integer(_value(own, "ilvl"), None)
        styled = self.styles.get(style if style is not None else self.default_style)
        if num_id is None and styled is not None:
            num_id, ilvl = styled[0], ilvl if ilvl is not None else styled[1]
        instance = self.instances.get(num_id or "")
        if instance is None:  # no list, numId 0 (numbering removed), or a list the file does not define
            return ""
        level_number = ilvl if ilvl is not None else instance.level_of_style(style)
        level = instance.levels.get(level_number)
        if level is None:
            return ""
        counts = self.counts.setdefault(instance.abstract, {})
        if level_number in instance.starts and (num_id, level_number) not in self.started:
            self.started.add((num_id, level_number))
            counts[level_number] = instance.starts[level_number]
        else:
            counts[level_number] = counts[level_number] + 1 if level_number in counts else level.start
        for deeper in [k for k in counts if k > level_number]:
            restart = instance.levels[deeper].restart if deeper in instance.levels else None
            if restart is None or (restart != 0 and level_number < restart):
                del counts[deeper]
        if level.format in ("bullet", "none"):
            return ""
        text = re.sub(r"%([1-9])", lambda m: self._number_text(instance, int(m.group(1)) - 1, level.legal), level.text)
        return f"{text.strip()}{level.suffix}" if text.strip() else ""

    def _number_text(self, instance: _Instance, ilvl: int, legal: bool) -> str:
        level = instance.levels.get(ilvl, _Level())
        count = self.counts.get(instance.abstract, {}).get(ilvl, level.start)
        return format_number(count, "decimal" if legal else level.format)


def format_number(number: int, style: str) -> str:
    """``number`` as Word writes it in numbering format ``style``; formats of other scripts in Arabic numerals."""
    if style == "decimalZero":
        return f"{number:02d}"
    if style in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (number - 1) % 26) * ((number - 1) // 26 + 1) if number > 0 else str(number)
        return letter.upper() if style == "upperLetter" else letter
    if style in ("lowerRoman", "upperRoman") and 0 < number < 4000:
        numeral = roman(number)
        return numeral.upper() if style == "upperRoman" else numeral
    if style == "ordinal":
        suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
        return f"{number}{suffix}"
    return str(number)


def roman(number: int) -> str:
    """Lower-case Roman numerals (Word's default for endnotes, and its ``lowerRoman`` numbering)."""
    digits = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
              (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))  # fmt: skip
    result = ""
    for value, letters in digits:
        count, number = divmod(number, value)
        result += letters * count
    return result


def style_list(style: etree._Element) -> tuple[str | None, int | None] | None:
    """The list (``w:numId``) and level a style's paragraph properties name, or None when they name none."""
    num_pr = style.find(f"{W}pPr/{W}numPr")
    if num_pr is None:
        return None
    ilvl = _value(num_pr, "ilvl")
    return _value(num_pr, "numId"), integer(ilvl, 0) if ilvl is not None else None


def _value(element: etree._Element | None, child: str) -> str | None:
    found = element.find(W + child) if element is not None else None
    return found.get(W + "val") if found is not None else None


def integer(value: str | None, default: int | None = None) -> int | None:
    """An attribute's integer value; ``default`` when it is missing or not an integer."""
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def is_on(element: etree._Element | None, ns: str = W) -> bool:
    """An on/off property (``w:val``, absent meaning on); a missing element is off."""
    return element is not None and element.get(ns + "val", "1").lower() not in ("0", "false", "off")
