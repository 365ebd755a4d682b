"""The admin's searches, as the PostgreSQL indexes of migrations 0005 and 0007 serve them.

On PostgreSQL a search repeats its index's expression exactly (full text on
an Activity's snapshot body, trigrams on a lead's name, email and company);
elsewhere it is a case-insensitive substring scan. Each expression compiles
its columns through Django, so it names the right table alias also inside a
subquery (an action on a searched changelist, a body match used as `pk__in`).
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import BooleanField, F, Func, Q, QuerySet, TextField, Value
from django.db.models.fields.json import KeyTextTransform

from engines.db.features import is_postgresql
from outreach.models import Lead

LEAD_SEARCH_FIELDS = ("first_name", "last_name", "email", "company_name")


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
        super().__init__(*(F(name) for name in LEAD_SEARCH_FIELDS))

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        parts = [compiler.compile(expression) for expression in self.get_source_expressions()]
        return "UPPER(" + " || ' ' || ".join(sql for sql, _ in parts) + ")", tuple(p for _, ps in parts for p in ps)


def leads_matching(leads: QuerySet[Lead], words: list[str]) -> QuerySet[Lead]:
    """The leads whose name, email or company holds every one of `words` (through the trigram index on PostgreSQL)."""
    if is_postgresql(leads.db):
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


def body_matches(words: list[str], *, using: str = DEFAULT_DB_ALIAS) -> Q:
    """Activities whose snapshot body holds every one of `words` (full-text on PostgreSQL, substring elsewhere)."""
    if is_postgresql(using):
        return Q(BodyMatches(" ".join(words)))
    condition = Q()
    for word in words:
        condition &= Q(content_snapshot__body__icontains=word)
    return condition
