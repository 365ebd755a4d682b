"""The pattern store: which conversion pattern a consumer (the scorer, the allocator) should use.

The newest activated pattern still in force that is valid (engines.rules.pattern_checks)
is active; newer invalid ones are skipped with a log line. Learning writes patterns,
scoring and planning read them here, so this store sits below both.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from engines.json_types import JSONObject
from engines.rules.pattern_checks import pattern_errors
from outreach.models import Client, ConversionPattern

logger = logging.getLogger(__name__)

# Candidates fetched at a time while looking past invalid patterns; the newest is nearly always valid.
CANDIDATE_CHUNK = 8


def get_active_pattern(
    client: Client | int, pattern_type: str, *, now: datetime | None = None, excluding: int | None = None
) -> ConversionPattern | None:
    """The newest activated pattern of this client and type that is in force at `now` and valid, or None.

    Several may be in force (history is kept): the newest valid one wins, and
    each newer invalid one is skipped with a log line saying why. `excluding`
    leaves one pattern out (the one that was active before it).
    """
    now = now or timezone.now()
    client_id = client.pk if isinstance(client, Client) else client
    candidates = ConversionPattern.objects.filter(
        client_id=client_id,
        pattern_type=pattern_type,
        activated=True,
        valid_until__gt=now,
        computed_at__lte=now,
    ).order_by("-computed_at", "-pk")
    if excluding is not None:
        candidates = candidates.exclude(pk=excluding)
    # Slices, not iterator(): on PostgreSQL that opens a server-side cursor, three round trips for one row.
    start = 0
    while True:
        chunk = list(candidates[start : start + CANDIDATE_CHUNK])
        for pattern in chunk:
            errors = pattern_errors(pattern_type, pattern.patterns)
            if not errors:
                return pattern
            logger.warning(
                "ignoring invalid %s pattern %s of client %s: %s",
                pattern_type,
                pattern.pk,
                pattern.client_id,
                "; ".join(errors),
            )
        if len(chunk) < CANDIDATE_CHUNK:
            return None
        start += CANDIDATE_CHUNK


def load_active_patterns(client: Client | int, pattern_type: str, *, now: datetime | None = None) -> JSONObject | None:
    """The data of the active pattern (see get_active_pattern), or None when there is none.

    This is what consumers call: the data is valid, so a consumer may read the
    keys its type requires directly and the optional ones with `.get`.
    """
    pattern = get_active_pattern(client, pattern_type, now=now)
    if pattern is None:
        return None
    data: JSONObject = pattern.patterns
    return data
