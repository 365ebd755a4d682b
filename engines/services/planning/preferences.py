"""What a conversion pattern says about a part it found no credible winner for."""

from __future__ import annotations

from engines.json_types import JSONObject


def no_preference(pattern: JSONObject | None, part: str) -> bool:
    """True when the pattern lists `part` (e.g. "best_days", "winning_sequences") under "no_preference".

    Such a part is noise to its producer, so consumers keep their defaults for it.
    """
    if not pattern:
        return True
    named: object = pattern.get("no_preference")
    return isinstance(named, (list, tuple)) and part in named
