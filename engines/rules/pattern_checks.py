"""Conversion pattern validation: each schema's verdict turned into readable messages. Never raises.

The shapes live in engines.rules.pattern_schemas (one pydantic model per
type). Producers validate before saving, consumers skip an invalid pattern
(engines.services.patterns), and ConversionPattern.clean() refuses one in the admin.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from engines.exceptions import InvalidPattern
from engines.json_types import JSONObject
from engines.rules.pattern_schemas import (
    SCHEMAS,
    WEIGHT_KEYS,
    WEIGHT_MAX,
    WEIGHT_MIN,
    WEIGHT_SUM_MAX,
    WEIGHT_SUM_MIN,
    Weights,
)
from outreach.models.choices import Channel, Tier

__all__ = [
    "CHANNELS",
    "TIERS",
    "WEIGHT_KEYS",
    "WEIGHT_MAX",
    "WEIGHT_MIN",
    "WEIGHT_SUM_MAX",
    "WEIGHT_SUM_MIN",
    "pattern_errors",
    "validate_pattern",
    "weights_errors",
]

CHANNELS = frozenset(Channel.values)
TIERS = frozenset(Tier.values)
# A pattern with thousands of bad entries says so in a few lines, not thousands.
MAX_MESSAGES = 20

_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict, _short.maxlevel = 40, 40, 4, 4, 2

_OBJECT_ERRORS = {"model_type", "model_attributes_type", "dict_type"}
_NUMBER_ERRORS = {"float_type", "finite_number", "float_parsing"}
_BOUND_ERRORS = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}


def _show(value: object) -> str:
    """A short repr for a message; some values (an int of 5,000 digits) have no repr at all."""
    try:
        return _short.repr(value)
    except ValueError:
        return f"a {type(value).__name__} too large to show"


def _where(loc: Sequence[int | str], root: str) -> str:
    """`best_days[0].day_index`; a dict key that is itself wrong reads `optimal_length key`."""
    parts = list(loc[:-2]) if _is_key(loc) else list(loc)
    text = root
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}" if text else part
        else:
            text += f"[{_show(part)}]"
    return f"{text} key" if _is_key(loc) else text


def _is_key(loc: Sequence[int | str]) -> bool:
    return bool(loc) and loc[-1] == "[key]"


def _message(error: ErrorDetails, root: str) -> str:
    kind, loc, value, ctx = error["type"], error["loc"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        where = _where(loc[:-1], root)
        return f"{where}: missing {loc[-1]}" if where else f"missing {loc[-1]}"
    where = _where(loc, root) or "patterns"
    if kind in _OBJECT_ERRORS:
        return f"{where} must be an object, got {type(value).__name__}"
    if kind == "list_type":
        return f"{where} must be a list, got {type(value).__name__}"
    if kind == "string_type":
        return f"{where} must be a string, got {_show(value)}"
    if kind in _NUMBER_ERRORS:
        return f"{where} must be a number, got {_show(value)}"
    if kind == "int_type":
        return f"{where} must be a whole number, got {_show(value)}"
    if kind in _BOUND_ERRORS:
        return f"{where} must be {_BOUND_ERRORS[kind]} {next(iter(ctx.values()), '?')}, got {_show(value)}"
    if kind == "literal_error":
        return f"{where} {_show(value)} is not one of {ctx.get('expected', '?')}"
    if kind == "out_of_range":
        return f"{where}={_show(value)} {error['msg']}"
    if kind == "whole_out_of_range":
        return f"{where} {error['msg']}, got {_show(value)}"
    if kind == "string_pattern_mismatch":
        return f"{where} {_show(value)} does not match {ctx.get('pattern', '?')}"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return f"{where} must not be empty"
    if _is_key(loc):
        return f"{where} {_show(value)}: {error['msg']}"
    return f"{where}: {error['msg']}"


def _errors(model: type[BaseModel], data: object, root: str = "") -> list[str]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        details = exc.errors(include_url=False)
        messages = [_message(error, root) for error in details[:MAX_MESSAGES]]
        if len(details) > MAX_MESSAGES:
            messages.append(f"... and {len(details) - MAX_MESSAGES} more")
        return messages
    except RecursionError:
        # Only reachable from Python callers: JSON decoding refuses such depth first.
        return [f"{root or 'patterns'} is nested too deeply to check"]
    return []


def weights_errors(weights: object) -> list[str]:
    """Why `weights` cannot be used as scorer weights (empty when they can)."""
    if not isinstance(weights, dict):
        return [f"weights must be an object with {', '.join(WEIGHT_KEYS)}, got {type(weights).__name__}"]
    return _errors(Weights, weights, root="weights")


def pattern_errors(pattern_type: object, data: object) -> list[str]:
    """Every way `data` breaks the schema of `pattern_type`; an empty list means valid. Never raises."""
    model = SCHEMAS.get(pattern_type) if isinstance(pattern_type, str) else None
    if model is None:
        return [f"unknown pattern type {_show(pattern_type)}; expected one of {', '.join(SCHEMAS)}"]
    if not isinstance(data, dict):
        return [f"patterns must be an object, got {type(data).__name__}"]
    return _errors(model, data)


def validate_pattern(pattern_type: str, data: JSONObject) -> JSONObject:
    """Return `data` when it is a valid pattern of `pattern_type`; raise InvalidPattern otherwise."""
    errors = pattern_errors(pattern_type, data)
    if errors:
        raise InvalidPattern(pattern_type, errors)
    return data
