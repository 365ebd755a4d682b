"""Generated patterns, most of them nearly valid and the rest any JSON, never break validation or a consumer.

Each type gets at least 5,000 patterns. Every one goes through pattern_errors,
ConversionPattern.clean() and, when valid, the consumers' parsing functions;
then each is stored as the pattern of its own client, whose lead is scored
(score_leads, score_lead) and planned (allocate_leads, allocate_lead on a
subset). The run is derandomized so CI sees the same 5,000 every time.
"""

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.rules.pattern_checks import pattern_errors
from engines.rules.pattern_schemas import WEIGHT_KEYS
from engines.services.patterns import load_active_patterns
from engines.services.planning.allocator import allocate_lead, allocate_leads
from engines.services.planning.calendar import timing_from
from engines.services.planning.exploration import day_arms, hour_arms, sequence_arms
from engines.services.planning.sequence_rules import build_sequence
from engines.services.scoring.lead_score import score_lead, score_leads, validate_weights
from outreach.models import Client, ConversionPattern, Lead

PER_TYPE = 5_000
BATCH = 10
STORE_CHUNK = 1_000
# Every pattern goes through validation, the consumers' parsing functions and score_leads; planning
# in the database runs for every ONE_BY_ONE_EVERY-th client with allocate_lead (and score_lead) and
# every BULK_EVERY-th with allocate_leads.
ONE_BY_ONE_EVERY = 20
BULK_EVERY = 10
NOW = datetime(2026, 3, 2, tzinfo=UTC)
CHANNELS = ["email", "sms", "linkedin", "voice"]
TIERS = ["hot", "warm", "cool"]
TYPES = ("who", "when", "how", "what")

# ---------------------------------------------------------------- any JSON

EDGE_NUMBERS = st.sampled_from([0, 1, -1, 0.5, 10**400, -(10**400), 2**63, 1e308, -0.0, 5e-324, 10**12 + 1])
NUMBERS = st.one_of(st.integers(-10, 10**13), st.floats(allow_nan=True, allow_infinity=True), EDGE_NUMBERS)
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=4)
LEAF = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, st.sampled_from([*CHANNELS, *TIERS, "fax", "touch_1_to_2"]))
# Two levels of containers: deeper nesting is one fixed case (and a test of its own in test_patterns.py).
DEEP = [[[[[[[[["email"]]]]]]]]]
ANY_JSON = st.one_of(
    LEAF,
    st.lists(LEAF, max_size=3),
    st.dictionaries(TEXT, LEAF, max_size=3),
    st.lists(st.lists(LEAF, max_size=2) | st.dictionaries(TEXT, LEAF, max_size=2), max_size=2),
    st.just(DEEP),
)


def usually(valid: st.SearchStrategy) -> st.SearchStrategy:
    """The valid shape about seven times in eight, any JSON otherwise (a pattern has many parts to break)."""
    return st.integers(0, 7).flatmap(lambda roll: ANY_JSON if roll == 0 else valid)


def pattern(required: dict, optional: dict) -> st.SearchStrategy:
    shared = {
        "sample_size": COUNT,
        "confidence": RATE,
        "no_preference": st.lists(st.sampled_from(["best_days", "best_hours", "winning_sequences"]), max_size=3),
        "evidence": st.dictionaries(TEXT, ANY_JSON, max_size=2),
    }
    return usually(
        st.fixed_dictionaries(
            {key: usually(value) for key, value in required.items()},
            optional={key: usually(value) for key, value in {**shared, **optional}.items()},
        )
    )


# ---------------------------------------------------------------- nearly valid parts

RATE = st.floats(0, 1)
COUNT = st.integers(0, 10**12)


@st.composite
def weights(draw):
    three = [draw(st.floats(0.1, 0.3)) for _ in range(3)]
    return dict(zip(WEIGHT_KEYS, [*three, draw(st.floats(0.8, 0.9)) - sum(three)], strict=True))


@st.composite
def arm(draw, key: str, value: st.SearchStrategy):
    trials = draw(st.one_of(st.integers(0, 50), COUNT))
    return {key: draw(value), "successes": draw(st.integers(0, trials)), "trials": trials}


@st.composite
def word_range(draw):
    low = draw(st.integers(0, 300))
    return {"min_words": low, "max_words": draw(st.integers(low, 400))}


SEQUENCE = st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=7)
WHO = pattern(
    {"recommended_weights": weights()},
    {
        "conversion_rate_by": st.dictionaries(TEXT, st.dictionaries(TEXT, ANY_JSON, max_size=2), max_size=2),
        "activation": st.fixed_dictionaries(
            {},
            optional={
                "auc_new": RATE | st.none(),
                "auc_current": RATE | st.none(),
                "interval": st.lists(st.floats(-1, 1), min_size=2, max_size=2),
                "leads": COUNT,
                "activated": st.booleans(),
            },
        ),
    },
)
WHEN = pattern(
    {
        "best_days": st.lists(
            st.fixed_dictionaries({"day_index": st.integers(0, 6), "conversion_rate": RATE}), max_size=4
        ),
        "best_hours": st.lists(
            st.fixed_dictionaries({"hour": st.integers(0, 23), "conversion_rate": RATE}), max_size=4
        ),
        "optimal_sequence_gaps": st.dictionaries(
            st.sampled_from([f"touch_{n}_to_{n + 1}" for n in range(1, 9)]), st.floats(1e-6, 60), max_size=6
        ),
    },
    {
        "converting_touch_distribution": st.dictionaries(st.integers(1, 9).map(str), COUNT, max_size=4),
        "peak_converting_touch": st.integers(1, 1000) | st.none(),
        "day_arms": st.lists(arm("day_index", st.integers(0, 6)), max_size=4),
        "hour_arms": st.lists(arm("hour", st.integers(0, 23)), max_size=4),
    },
)
HOW = pattern(
    {
        "best_first_channel": st.sampled_from([*CHANNELS, None]),
        "winning_sequences": st.lists(
            st.fixed_dictionaries({"sequence": SEQUENCE}, optional={"conversion_rate": RATE, "sample_size": COUNT}),
            max_size=4,
        ),
    },
    {
        "channel_effectiveness_by_tier": st.dictionaries(
            st.sampled_from(TIERS),
            st.dictionaries(
                st.sampled_from(CHANNELS),
                st.fixed_dictionaries({"conversion_rate": RATE, "sample_size": COUNT}),
                max_size=3,
            ),
            max_size=3,
        ),
        "arms": st.lists(arm("sequence", SEQUENCE), max_size=3),
    },
)
WHAT = pattern(
    {},
    {
        "pain_points": st.fixed_dictionaries(
            {"effective": st.lists(TEXT, max_size=3), "ineffective": st.lists(TEXT, max_size=3)}
        ),
        "ctas": st.fixed_dictionaries({"effective": st.lists(TEXT, max_size=3)}),
        "personalization_lift": st.dictionaries(TEXT, st.floats(0, 1000), max_size=4),
        "optimal_length": st.dictionaries(st.sampled_from(CHANNELS), word_range(), max_size=3),
    },
)
PATTERNS = st.fixed_dictionaries({"who": WHO, "when": WHEN, "how": HOW, "what": WHAT})


# ---------------------------------------------------------------- checks


def check_validation(pattern_type: str, data) -> bool:
    """pattern_errors and clean() agree and never raise; a valid pattern goes through its consumer's parsing."""
    errors = pattern_errors(pattern_type, data)
    assert isinstance(errors, list) and all(isinstance(error, str) for error in errors)
    stored = ConversionPattern(
        pattern_type=pattern_type, patterns=data, computed_at=NOW, valid_until=NOW + timedelta(days=1)
    )
    try:
        stored.clean()
    except ValidationError as exc:
        assert exc.message_dict == {"patterns": errors}
    else:
        assert not errors
    if not errors:
        parse(pattern_type, data)
    return not errors


def parse(pattern_type: str, data: dict) -> None:
    if pattern_type == "who":
        assert validate_weights(data["recommended_weights"])
    elif pattern_type == "when":
        timing = timing_from(data)
        assert timing.best_days and timing.best_hours
        day_arms(data), hour_arms(data)
    elif pattern_type == "how":
        for tier in TIERS:
            assert build_sequence(tier, data)
            assert build_sequence(tier, data, {"email", "voice"})
        sequence_arms(data)


def storable(value):
    """The value as a database can hold it: PostgreSQL's jsonb has no NaN or infinity, and None is SQL NULL.

    Each replacement is invalid wherever the original was, so validity does not change.
    """
    if value is None:
        return [None]
    return _finite(value)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def store(batch: list[dict]) -> list[Lead]:
    """One client per generated set of patterns, with one reachable lead of a tier that varies."""
    clients = Client.objects.bulk_create([Client(name=f"Fuzz {i}") for i in range(len(batch))])
    leads = Lead.objects.bulk_create(
        Lead(
            client=client,
            first_name="Pat",
            email=f"pat{client.pk}@example.com",
            phone="+61412345678",
            linkedin_url=f"https://www.linkedin.com/in/pat-{client.pk}",
            country="AU",
            als_score=(90, 60, 20)[i % 3],
        )
        for i, client in enumerate(clients)
    )
    ConversionPattern.objects.bulk_create(
        ConversionPattern(
            client=client,
            pattern_type=pattern_type,
            patterns=storable(patterns[pattern_type]),
            computed_at=NOW - timedelta(hours=1),
            valid_until=NOW + timedelta(days=7),
        )
        for client, patterns in zip(clients, batch, strict=True)
        for pattern_type in TYPES
    )
    return leads


def check_consumers(leads: list[Lead], valid: list[dict[str, bool]]) -> None:
    """Score every lead (each client's pattern resolved once); plan a share one by one and a share in bulk."""
    queryset = Lead.objects.filter(pk__in=[lead.pk for lead in leads])
    assert score_leads(queryset, now=NOW) == len(leads)
    sources = dict(queryset.values_list("pk", "als_weights_source"))
    for lead, ok in zip(leads, valid, strict=True):
        assert sources[lead.pk] == ("pattern" if ok["who"] else "default")
    rng = np.random.default_rng(0)
    one_by_one, in_bulk = leads[::ONE_BY_ONE_EVERY], leads[1::BULK_EVERY]
    for lead, ok in zip(one_by_one, valid[::ONE_BY_ONE_EVERY], strict=True):
        for pattern_type in ("when", "how"):
            assert (load_active_patterns(lead.client_id, pattern_type, now=NOW) is not None) == ok[pattern_type]
        score_lead(lead, now=NOW)
        assert allocate_lead(lead, now=NOW, rng=rng)["scheduled_touches"]
    counts = allocate_leads(queryset.filter(pk__in=[lead.pk for lead in in_bulk]), now=NOW, rng=rng)
    assert counts["allocated"] == len(in_bulk)


@pytest.mark.django_db
def test_generated_patterns_never_break_validation_or_consumers():
    generated: list[dict] = []
    valid: list[dict[str, bool]] = []

    @settings(
        max_examples=PER_TYPE // BATCH,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(PATTERNS, min_size=BATCH, max_size=BATCH))
    def run(batch: list[dict]) -> None:
        valid.extend({t: check_validation(t, patterns[t]) for t in TYPES} for patterns in batch)
        generated.extend(batch)

    run()
    assert len(generated) >= PER_TYPE
    # Enough of each kind reached the consumers' parsing for the run to mean something.
    assert all(sum(ok[t] for ok in valid) >= PER_TYPE // 10 for t in TYPES)
    # The database half runs on whole chunks: a client per generated set, so every pattern reaches its consumer.
    for start in range(0, len(generated), STORE_CHUNK):
        chunk = slice(start, start + STORE_CHUNK)
        check_consumers(store(generated[chunk]), valid[chunk])
