"""The types of JSON data, named once so that every other module in engines/ can do without `Any`.

- `JSONValue` is exact: what we build ourselves and store in a JSONField (a content
  snapshot, an Activity's metadata). mypy checks every value. Its containers are the
  read-only `Sequence` and `Mapping`, so a `list[str]` or a `dict[str, int]` is one.
- `JSONObject` is a JSON object whose shape is not ours to check: what a provider sends
  (an ESP's event) or what a JSONField holds when read back (a conversion pattern, a
  client's ICP), and the pattern data the detectors build and the pattern schemas then
  validate. Its values are `Any`: read them with `.get` and `isinstance`, or validate them
  (engines.rules.pattern_checks) first.

This module imports nothing of the product, so every layer may import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

JSONScalar: TypeAlias = str | int | float | bool | None
JSONValue: TypeAlias = JSONScalar | Sequence["JSONValue"] | Mapping[str, "JSONValue"]
# The one place `Any` stands for data in engines/: JSON from a provider or a JSONField, unchecked.
JSONObject: TypeAlias = dict[str, Any]
