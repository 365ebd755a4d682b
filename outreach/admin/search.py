"""Search expressions the PostgreSQL indexes of migrations 0005 and 0007 serve.

Each compiles its columns through Django, so it names the right table alias also inside a subquery (an action
on a searched changelist, a body match used as `pk__in`), and repeats its index's expression exactly.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, QuerySet, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.utils.text import smart_split, unescape_string_literal

from outreach.models import Lead


def search_words(term: str) -> list[str]:
    """The words of an admin search box, quoted phrases kept whole (as the admin's own search splits them)."""
    words = []
    for bit in smart_split(term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if bit.strip():
            words.append(bit)
    return words


class BodyMatches(Func):
    """True when an Activity's snapshot body holds every word of `query` (index activity_body_fts)."""

    output_field = BooleanField()

    def __init__(self, query: str) -> None:
        super().__init__(KeyTextTransform("body", "content_snapshot"), Value(query))

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        body, query = (compiler.compile(expression) for expression in self.get_source_expressions())
        sql = f"to_tsvector('english', COALESCE({body[0]}, '')) @@ plainto_tsquery('english', {query[0]})"
        return sql, (*body[1], *query[1])


class LeadSearchText(Func):
    """A lead's name, email and company as one upper-case text (index lead_search_trgm)."""

    output_field = TextField()

    def __init__(self) -> None:
        super().__init__(F("first_name"), F("last_name"), F("email"), F("company_name"))

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        parts = [compiler.compile(expression) for expression in self.get_source_expressions()]
        return "UPPER(" + " || ' ' || ".join(sql for sql, _ in parts) + ")", tuple(p for _, ps in parts for p in ps)


LEAD_SEARCH_FIELDS = ("first_name", "last_name", "email", "company_name")


def leads_matching(leads: QuerySet[Lead], words: list[str]) -> QuerySet[Lead]:
    """The leads whose name, email or company holds every one of `words` (through the trigram index on PostgreSQL)."""
    if connection.vendor == "postgresql":
        leads = leads.alias(search_text=LeadSearchText())
        for word in words:
            leads = leads.filter(search_text__contains=word.upper())
        return leads
    for word in words:
        any_field = Q()
        for field in LEAD_SEARCH_FIELDS:
            any_field |= Q(**{f"{field}__icontains": word})
        leads = leads.filter(any_field)
    return leads
