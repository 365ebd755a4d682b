"""The shape of each conversion pattern type, described once as pydantic models.

Everything that checks a pattern derives from these models: the producers
(the detectors validate before saving), the consumers (engines.services.patterns
skips an invalid pattern), ConversionPattern.clean() (so the admin refuses one)
and the JSON Schema published in docs/pattern-schemas.json.

A field is required only when a consumer reads it (the scorer reads
who.recommended_weights; the allocator reads how.best_first_channel and
winning_sequences, when.best_days, best_hours and optimal_sequence_gaps).
Every other field is optional and checked when present. Keys the models do
not name are allowed, so producers can add evidence without a schema change.

Validation is strict: a boolean is not a number, "10" is not an hour, NaN and
infinities are refused, and every float has a range, so no JSON value can
reach a consumer's arithmetic and overflow it.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import models_json_schema
from pydantic_core import PydanticCustomError

from engines.json_types import JSONObject

WEIGHT_KEYS = ("data_quality", "authority", "company_fit", "timing")
WEIGHT_MIN, WEIGHT_MAX = 0.05, 0.50
WEIGHT_SUM_MIN, WEIGHT_SUM_MAX = 0.80, 0.90
# Learned weights are rounded floats: a sum of 0.9000000001 is 0.90.
WEIGHT_SUM_TOLERANCE = 1e-9
# Counts beyond this are not evidence but corruption; the bound keeps Beta draws and sums finite.
MAX_COUNT = 10**12
MAX_GAP_DAYS = 60
# Three digits: a key like touch_<5,000 digits>_to_2 must not reach int().
GAP_KEY = re.compile(r"^touch_([0-9]{1,3})_to_([0-9]{1,3})$")

ChannelName = Literal["email", "sms", "linkedin", "voice"]
TierName = Literal["hot", "warm", "cool"]


def _within(low: float, high: float, *, open_low: bool = False) -> AfterValidator:
    bracket = "(" if open_low else "["

    def check(value: float) -> float:
        if not (low < value if open_low else low <= value) or not value <= high:
            raise PydanticCustomError("out_of_range", f"is outside {bracket}{low}, {high}]")
        return value

    return AfterValidator(check)


def _whole_between(low: int, high: int) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise PydanticCustomError("whole_out_of_range", f"must be a whole number {low}-{high}")
        return value

    return AfterValidator(check)


def _gap_key(key: str) -> str:
    match = GAP_KEY.match(key)
    if not match or int(match.group(1)) < 1 or int(match.group(2)) != int(match.group(1)) + 1:
        raise PydanticCustomError("gap_key", "must look like touch_N_to_N+1 (N >= 1)")
    return key


_FINITE = Field(allow_inf_nan=False)
Rate = Annotated[float, _FINITE, Field(json_schema_extra={"minimum": 0, "maximum": 1}), _within(0, 1)]
Weight = Annotated[
    float,
    _FINITE,
    Field(json_schema_extra={"minimum": WEIGHT_MIN, "maximum": WEIGHT_MAX}),
    _within(WEIGHT_MIN, WEIGHT_MAX),
]
GapDays = Annotated[
    float,
    _FINITE,
    Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_GAP_DAYS}),
    _within(0, MAX_GAP_DAYS, open_low=True),
]
Lift = Annotated[float, _FINITE, Field(json_schema_extra={"minimum": 0, "maximum": 1000}), _within(0, 1000)]
Finite = Annotated[float, _FINITE, Field(json_schema_extra={"minimum": -1e6, "maximum": 1e6}), _within(-1e6, 1e6)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
TouchNumber = Annotated[int, Field(ge=1, le=1000)]
DayIndex = Annotated[
    int,
    Field(description="Monday = 0, in the lead's local time", json_schema_extra={"minimum": 0, "maximum": 6}),
    _whole_between(0, 6),
]
Hour = Annotated[
    int,
    Field(description="local hour of the lead", json_schema_extra={"minimum": 0, "maximum": 23}),
    _whole_between(0, 23),
]
GapKey = Annotated[str, Field(pattern=GAP_KEY.pattern), AfterValidator(_gap_key)]
StringList = list[str]


class _Part(BaseModel):
    """A part of a pattern: strict, and open to keys it does not name (producers add evidence)."""

    model_config = ConfigDict(strict=True, extra="allow")


class _Arm(_Part):
    """Bookings (successes) out of plans (trials): the counts a Beta posterior is drawn from."""

    successes: Count
    trials: Count

    @model_validator(mode="after")
    def _successes_within_trials(self) -> _Arm:
        if self.successes > self.trials:
            raise PydanticCustomError(
                "arm_counts",
                "successes ({successes}) exceed trials ({trials})",
                {"successes": self.successes, "trials": self.trials},
            )
        return self


class _Pattern(_Part):
    sample_size: Count = 0
    confidence: Rate = 0.0
    no_preference: StringList = Field(default_factory=list, description="parts with no credible winner")
    evidence: JSONObject = Field(default_factory=dict, description="free-form: what the pattern was learned from")


# ---------------------------------------------------------------- WHO


class Weights(_Part):
    """Scorer weights: each in [0.05, 0.50], summing to 0.80-0.90 (risk is a deduction, not weighted)."""

    data_quality: Weight
    authority: Weight
    company_fit: Weight
    timing: Weight

    @model_validator(mode="after")
    def _sum_in_range(self) -> Weights:
        total = sum(getattr(self, key) for key in WEIGHT_KEYS)
        if not WEIGHT_SUM_MIN - WEIGHT_SUM_TOLERANCE <= total <= WEIGHT_SUM_MAX + WEIGHT_SUM_TOLERANCE:
            raise PydanticCustomError(
                "weights_sum",
                "sum to {total}, must be within {low}-{high}",
                {"total": f"{total:.3f}", "low": WEIGHT_SUM_MIN, "high": WEIGHT_SUM_MAX},
            )
        return self


class Activation(_Part):
    """Whether the learned weights beat the weights in use on held-out leads (AUC with its interval)."""

    auc_new: Rate | None = None
    auc_current: Rate | None = None
    interval: Annotated[list[Finite], Field(min_length=2, max_length=2)] | None = None
    leads: Count = 0
    activated: bool = True


class WhoPattern(_Pattern):
    recommended_weights: Weights
    conversion_rate_by: dict[str, JSONObject] = Field(default_factory=dict)
    activation: Activation | None = None


# ---------------------------------------------------------------- WHEN


class DayRate(_Part):
    day_index: DayIndex
    conversion_rate: Rate


class HourRate(_Part):
    hour: Hour
    conversion_rate: Rate


class DayArm(_Arm):
    day_index: DayIndex


class HourArm(_Arm):
    hour: Hour


class DayHourArm(_Arm):
    day_index: DayIndex
    hour: Hour


class WhenPattern(_Pattern):
    best_days: list[DayRate] = Field(description="best first; [] = no preference")
    best_hours: list[HourRate] = Field(description="best first; [] = no preference")
    optimal_sequence_gaps: dict[GapKey, GapDays] = Field(description="minimum days between touches; {} = defaults")
    converting_touch_distribution: dict[str, Count] = Field(default_factory=dict)
    peak_converting_touch: TouchNumber | None = None
    day_arms: list[DayArm] = Field(default_factory=list)
    hour_arms: list[HourArm] = Field(default_factory=list)
    day_hour_arms: list[DayHourArm] = Field(default_factory=list, description="the joint evidence, per day and hour")


# ---------------------------------------------------------------- HOW

Sequence = Annotated[list[ChannelName], Field(min_length=1)]


class WinningSequence(_Part):
    sequence: Sequence
    conversion_rate: Rate = 0.0
    sample_size: Count = 0


class ChannelRate(_Part):
    conversion_rate: Rate
    sample_size: Count


class SequenceArm(_Arm):
    sequence: Sequence


class HowPattern(_Pattern):
    best_first_channel: ChannelName | None = Field(description="null = no channel stands out")
    winning_sequences: list[WinningSequence] = Field(description="best first; [] = no preference")
    channel_effectiveness_by_tier: dict[TierName, dict[ChannelName, ChannelRate]] = Field(default_factory=dict)
    arms: list[SequenceArm] = Field(default_factory=list, description="strategies as planned, with their counts")


# ---------------------------------------------------------------- WHAT


class PainPoints(_Part):
    effective: StringList
    ineffective: StringList


class Ctas(_Part):
    effective: StringList


class WordRange(_Part):
    min_words: Count
    max_words: Count

    @model_validator(mode="after")
    def _ordered(self) -> WordRange:
        if self.min_words > self.max_words:
            raise PydanticCustomError(
                "word_range",
                "min_words ({low}) is above max_words ({high})",
                {"low": self.min_words, "high": self.max_words},
            )
        return self


class WhatPattern(_Pattern):
    pain_points: PainPoints | None = None
    ctas: Ctas | None = None
    personalization_lift: dict[str, Lift] = Field(default_factory=dict)
    optimal_length: dict[ChannelName, WordRange] = Field(default_factory=dict)


SCHEMAS: dict[str, type[_Pattern]] = {
    "who": WhoPattern,
    "what": WhatPattern,
    "when": WhenPattern,
    "how": HowPattern,
}


def required_keys(pattern_type: str) -> list[str]:
    """The keys a pattern of this type must have: those its consumer reads."""
    return [name for name, field in SCHEMAS[pattern_type].model_fields.items() if field.is_required()]


def json_schema() -> JSONObject:
    """One JSON Schema document with a definition per pattern type (what docs/pattern-schemas.json holds)."""
    refs, definitions = models_json_schema([(model, "validation") for model in SCHEMAS.values()])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Conversion patterns",
        "description": "ConversionPattern.patterns by pattern_type, from engines/rules/pattern_schemas.py.",
        "properties": {name: refs[(model, "validation")] for name, model in SCHEMAS.items()},
        **definitions,
    }


SCHEMA_FILE = "docs/pattern-schemas.json"


def render_json_schema() -> str:
    """The text of SCHEMA_FILE: the JSON Schema, indented, keys in model order, ending with a newline."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    # Regenerate the published schema: python -m engines.rules.pattern_schemas
    with open(SCHEMA_FILE, "w", encoding="utf-8") as out:
        out.write(render_json_schema())
