"""Questions asked in a conversation: what to search for when the last message leans on earlier turns.

"Which news agency did the Kazakh MP speak to?" / "Trend." / "What is his name?": the last message alone names
nobody, and searched alone it finds nothing about the MP. The conversation is searched as the last question with
the user's previous question before it, unless the last question already finds a passage that answers it on its
own (relevance at least ``SELF_CONTAINED``): then it is searched alone, so a question that changes topic is not
dragged back by the previous one. Measured on the seed follow-up set (README, "Follow-up questions").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.search.answerability import VERDICT_PASSAGES, best_relevance
from rag.search.searcher import Searcher
from rag.types import MAX_QUERY_CHARS, Hit

SELF_CONTAINED = 0.9
"""A last question whose best passage (among the first few) has at least this relevance is searched alone."""


@dataclass(frozen=True)
class Turn:
    """One message of a conversation: ``user`` or ``assistant`` (other roles are ignored), and its text."""

    role: str
    text: str


@dataclass(frozen=True)
class ConversationSearch:
    """What was searched for a conversation, and what it found."""

    question: str
    """The last user message, as asked."""
    query: str
    """The text searched: the question alone, or the previous question and the question."""
    hits: list[Hit]


def search_conversation(searcher: Searcher, turns: Sequence[Turn], k: int) -> ConversationSearch:
    """The passages for the conversation's last user message, read in the light of the one before it."""
    asked = [t.text.strip() for t in turns if t.role == "user" and t.text.strip()]
    if not asked:
        raise ValueError("a conversation needs a user message with text")
    question = _capped(asked[-1])
    alone = searcher.search(question, max(k, VERDICT_PASSAGES))
    if len(asked) == 1 or (best_relevance(alone) or 0.0) >= SELF_CONTAINED:
        return ConversationSearch(question, question, alone[:k])
    query = _capped(f"{asked[-2]}\n{question}", keep_end=True)
    return ConversationSearch(question, query, searcher.search(query, k))


def _capped(text: str, *, keep_end: bool = False) -> str:
    """At most ``MAX_QUERY_CHARS`` characters (the model reads 256 tokens, far fewer): the start of a long message,
    or with ``keep_end`` the end of a joined one, whose last question matters most."""
    if len(text) <= MAX_QUERY_CHARS:
        return text
    return text[-MAX_QUERY_CHARS:] if keep_end else text[:MAX_QUERY_CHARS]
