"""A paginator that stops counting at CAP rows: on a million-row table an exact COUNT(*) costs more than the page."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

CAP = 1_000


class CappedCountPaginator(Paginator):
    """Counts at most CAP + 1 rows (COUNT over a LIMITed subquery); `capped` says the true count is larger.

    Pages beyond the cap are not offered: past 10 pages, a filter or a search finds rows faster than paging.
    The admin's pagination and search templates (admin/outreach/) read `capped` to say "more than 1,000".
    """

    cap = CAP
    object_list: QuerySet[Any]  # the admin pages querysets only

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.cap + 1].count()

    @property
    def cap_text(self) -> str:
        return f"{self.cap:,}"

    @property
    def capped(self) -> bool:
        return self.count > self.cap
