"""Conversion patterns: schema validation and lookup of the active pattern.

The shapes are those of DESIGN.md "Conversion pattern schemas". Producers (the
detectors) and consumers (scorer, allocator) share these validators, and the
admin uses them through ConversionPattern.clean().
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone

from engines.exceptions import InvalidPattern
from outreach.models import Channel, Client, ConversionPattern, PatternType, Tier

logger = logging.getLogger(__name__)

WEIGHT_KEYS = ("data_quality", "authority", "company_fit", "timing")
WEIGHT_MIN, WEIGHT_MAX = 0.05, 0.50
WEIGHT_SUM_MIN, WEIGHT_SUM_MAX = 0.80, 0.90
CHANNELS = frozenset(Channel.values)
TIERS = frozenset(Tier.values)
GAP_KEY = re.compile(r"^touch_(\d+)_to_(\d+)$")


def _is_number(value: Any) -> bool:
    """A real, finite int or float; bool is excluded although Python counts it as int."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_rate(errors: list[str], where: str, value: Any) -> None:
    if not _is_number(value) or not 0 <= value <= 1:
        errors.append(f"{where} must be a number between 0 and 1, got {value!r}")


def _check_count(errors: list[str], where: str, value: Any) -> None:
    if not _is_int(value) or value < 0:
        errors.append(f"{where} must be a whole number >= 0, got {value!r}")


def weights_errors(weights: Any) -> list[str]:
    """Why `weights` cannot be used as scorer weights (empty when they can)."""
    if not isinstance(weights, dict):
        return [f"weights must be an object with {', '.join(WEIGHT_KEYS)}, got {type(weights).__name__}"]
    errors = []
    missing = [key for key in WEIGHT_KEYS if key not in weights]
    if missing:
        errors.append("weights are missing " + ", ".join(missing))
    for key in WEIGHT_KEYS:
        if key in weights:
            value = weights[key]
            if not _is_number(value):
                errors.append(f"weight {key} must be a number, got {value!r}")
            elif not WEIGHT_MIN <= value <= WEIGHT_MAX:
                errors.append(f"weight {key}={value} is outside [{WEIGHT_MIN}, {WEIGHT_MAX}]")
    if not errors:
        total = sum(weights[key] for key in WEIGHT_KEYS)
        # A small tolerance: learned weights are rounded floats.
        if not WEIGHT_SUM_MIN - 1e-9 <= total <= WEIGHT_SUM_MAX + 1e-9:
            errors.append(f"weights sum to {total:.3f}, must be within {WEIGHT_SUM_MIN}-{WEIGHT_SUM_MAX}")
    return errors


def _who_errors(data: dict) -> list[str]:
    errors = [f"recommended_weights: {e}" for e in weights_errors(data.get("recommended_weights"))]
    if not isinstance(data.get("conversion_rate_by"), dict):
        errors.append("conversion_rate_by must be an object")
    return errors


def _when_errors(data: dict) -> list[str]:
    errors: list[str] = []
    for key, field, upper in (("best_days", "day_index", 6), ("best_hours", "hour", 23)):
        entries = data.get(key)
        if not isinstance(entries, list):
            errors.append(f"{key} must be a list")
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                errors.append(f"{key}[{i}] must be an object")
                continue
            value = entry.get(field)
            if not _is_int(value) or not 0 <= value <= upper:
                errors.append(f"{key}[{i}].{field} must be a whole number 0-{upper}, got {value!r}")
            _check_rate(errors, f"{key}[{i}].conversion_rate", entry.get("conversion_rate"))
    gaps = data.get("optimal_sequence_gaps")
    if not isinstance(gaps, dict):
        errors.append("optimal_sequence_gaps must be an object")
    else:
        for key, days in gaps.items():
            match = GAP_KEY.match(str(key))
            if not match or int(match.group(2)) != int(match.group(1)) + 1 or int(match.group(1)) < 1:
                errors.append(f"optimal_sequence_gaps key {key!r} must look like touch_N_to_N+1")
            if not _is_number(days) or not 0 < days <= 60:
                errors.append(f"optimal_sequence_gaps[{key!r}] must be a number of days in (0, 60], got {days!r}")
    if not isinstance(data.get("converting_touch_distribution"), dict):
        errors.append("converting_touch_distribution must be an object")
    peak = data.get("peak_converting_touch")
    if "peak_converting_touch" not in data:
        errors.append("peak_converting_touch is missing (null when no touch converted)")
    elif peak is not None and (not _is_int(peak) or peak < 1):
        errors.append(f"peak_converting_touch must be a touch number >= 1 or null, got {peak!r}")
    return errors


def _how_errors(data: dict) -> list[str]:
    errors: list[str] = []
    first = data.get("best_first_channel")
    if "best_first_channel" not in data:
        errors.append("best_first_channel is missing (null when no channel stands out)")
    elif first is not None and first not in CHANNELS:
        errors.append(f"best_first_channel {first!r} is not one of {sorted(CHANNELS)}")
    sequences = data.get("winning_sequences")
    if not isinstance(sequences, list):
        errors.append("winning_sequences must be a list")
    else:
        for i, entry in enumerate(sequences):
            if not isinstance(entry, dict):
                errors.append(f"winning_sequences[{i}] must be an object")
                continue
            channels = entry.get("sequence")
            if not isinstance(channels, list) or not channels:
                errors.append(f"winning_sequences[{i}].sequence must be a non-empty list of channels")
            else:
                unknown = [c for c in channels if c not in CHANNELS]
                if unknown:
                    errors.append(f"winning_sequences[{i}].sequence has unknown channels {unknown}")
            _check_rate(errors, f"winning_sequences[{i}].conversion_rate", entry.get("conversion_rate"))
            _check_count(errors, f"winning_sequences[{i}].sample_size", entry.get("sample_size"))
    by_tier = data.get("channel_effectiveness_by_tier")
    if not isinstance(by_tier, dict):
        errors.append("channel_effectiveness_by_tier must be an object")
    else:
        for tier, channels in by_tier.items():
            if tier not in TIERS:
                errors.append(f"channel_effectiveness_by_tier has unknown tier {tier!r}")
                continue
            if not isinstance(channels, dict):
                errors.append(f"channel_effectiveness_by_tier[{tier!r}] must be an object")
                continue
            for channel, stats in channels.items():
                where = f"channel_effectiveness_by_tier[{tier!r}][{channel!r}]"
                if channel not in CHANNELS:
                    errors.append(f"{where}: unknown channel")
                elif not isinstance(stats, dict):
                    errors.append(f"{where} must be an object")
                else:
                    _check_rate(errors, f"{where}.conversion_rate", stats.get("conversion_rate"))
                    _check_count(errors, f"{where}.sample_size", stats.get("sample_size"))
    return errors


def _string_list_errors(where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return [f"{where} must be a list of strings"]
    return []


def _what_errors(data: dict) -> list[str]:
    errors: list[str] = []
    pain_points = data.get("pain_points")
    if not isinstance(pain_points, dict):
        errors.append("pain_points must be an object with effective and ineffective lists")
    else:
        errors += _string_list_errors("pain_points.effective", pain_points.get("effective"))
        errors += _string_list_errors("pain_points.ineffective", pain_points.get("ineffective"))
    ctas = data.get("ctas")
    if not isinstance(ctas, dict):
        errors.append("ctas must be an object with an effective list")
    else:
        errors += _string_list_errors("ctas.effective", ctas.get("effective"))
    lift = data.get("personalization_lift")
    if not isinstance(lift, dict):
        errors.append("personalization_lift must be an object")
    else:
        errors += [f"personalization_lift[{k!r}] must be a number" for k, v in lift.items() if not _is_number(v)]
    lengths = data.get("optimal_length")
    if not isinstance(lengths, dict):
        errors.append("optimal_length must be an object")
    else:
        for channel, bounds in lengths.items():
            where = f"optimal_length[{channel!r}]"
            if channel not in CHANNELS:
                errors.append(f"{where}: unknown channel")
            elif not isinstance(bounds, dict):
                errors.append(f"{where} must be an object")
            else:
                low, high = bounds.get("min_words"), bounds.get("max_words")
                if not (_is_int(low) and _is_int(high) and 0 <= low <= high):
                    errors.append(f"{where} needs whole numbers 0 <= min_words <= max_words, got {low!r}, {high!r}")
    return errors


_TYPE_CHECKS: dict[str, Callable[[dict], list[str]]] = {
    PatternType.WHO: _who_errors,
    PatternType.WHAT: _what_errors,
    PatternType.WHEN: _when_errors,
    PatternType.HOW: _how_errors,
}


def pattern_errors(pattern_type: str, data: Any) -> list[str]:
    """Every way `data` breaks the schema of `pattern_type`; an empty list means valid."""
    check = _TYPE_CHECKS.get(pattern_type)
    if check is None:
        return [f"unknown pattern type {pattern_type!r}; expected one of {', '.join(_TYPE_CHECKS)}"]
    if not isinstance(data, dict):
        return [f"patterns must be an object, got {type(data).__name__}"]
    errors = check(data)
    _check_count(errors, "sample_size", data.get("sample_size"))
    _check_rate(errors, "confidence", data.get("confidence"))
    return errors


def validate_pattern(pattern_type: str, data: Any) -> dict:
    """Return `data` when it is a valid pattern of `pattern_type`; raise InvalidPattern otherwise."""
    errors = pattern_errors(pattern_type, data)
    if errors:
        raise InvalidPattern(pattern_type, errors)
    return data


def get_active_pattern(
    client: Client | int, pattern_type: str, *, now: datetime | None = None
) -> ConversionPattern | None:
    """The newest pattern of this client and type that is still valid at `now`, or None.

    Several valid patterns may exist (history is kept); the newest wins.
    """
    now = now or timezone.now()
    client_id = client.pk if isinstance(client, Client) else client
    return (
        ConversionPattern.objects.filter(
            client_id=client_id, pattern_type=pattern_type, valid_until__gt=now, computed_at__lte=now
        )
        .order_by("-computed_at", "-pk")
        .first()
    )


def load_active_patterns(client: Client | int, pattern_type: str, *, now: datetime | None = None) -> dict | None:
    """The active pattern's data when it is valid; None (with a log line saying why) when absent or invalid.

    This is what consumers call: a malformed pattern must never break scoring or planning.
    """
    pattern = get_active_pattern(client, pattern_type, now=now)
    if pattern is None:
        return None
    errors = pattern_errors(pattern_type, pattern.patterns)
    if errors:
        logger.warning(
            "ignoring invalid %s pattern %s of client %s: %s",
            pattern_type,
            pattern.pk,
            pattern.client_id,
            "; ".join(errors),
        )
        return None
    return pattern.patterns
