"""Saving what a detector learned: a new ConversionPattern per run, history kept."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from engines.exceptions import InvalidPattern
from engines.json_types import JSONObject
from engines.rules.pattern_checks import validate_pattern
from outreach.models import Client, ConversionPattern

VALID_DAYS = 7


@dataclass(frozen=True)
class DetectionResult:
    """What one detector did for one client: the saved pattern, or None and why nothing was saved."""

    pattern_type: str
    pattern: ConversionPattern | None
    reason: str

    @property
    def saved(self) -> bool:
        return self.pattern is not None


def save_pattern(
    client: Client,
    pattern_type: str,
    data: JSONObject,
    *,
    now: datetime,
    valid_days: int = VALID_DAYS,
) -> ConversionPattern:
    """Store a new pattern (history is kept) valid for `valid_days`; an invalid shape is a bug and raises.

    A pattern whose activation check failed (`data["activation"]["activated"]`
    false) is stored for the record but not put to use.
    """
    validate_pattern(pattern_type, data)
    try:
        json.dumps(data, allow_nan=False)
    except ValueError as error:
        raise InvalidPattern(pattern_type, [f"not storable as JSON: {error}"]) from error
    return ConversionPattern.objects.create(
        client=client,
        pattern_type=pattern_type,
        patterns=data,
        sample_size=data["sample_size"],
        confidence=data["confidence"],
        computed_at=now,
        valid_until=now + timedelta(days=valid_days),
        activated=bool(data.get("activation", {}).get("activated", True)),
    )
