"""The admin's search box: its words, and the searches that serve them.

The searches live in engines.db.search (the expressions the PostgreSQL indexes of migrations 0005 and 0007
serve, a substring scan elsewhere); they are imported here for the admin's modules.
"""

from __future__ import annotations

from django.utils.text import smart_split, unescape_string_literal

from engines.db.search import BodyMatches, LeadSearchText, body_matches, leads_matching

__all__ = ["BodyMatches", "LeadSearchText", "body_matches", "leads_matching", "search_words"]


def search_words(term: str) -> list[str]:
    """The words of an admin search box, quoted phrases kept whole (as the admin's own search splits them)."""
    words = []
    for bit in smart_split(term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if bit.strip():
            words.append(bit)
    return words
