import json
import typing
from pathlib import Path

import pytest

from engines.rules import pattern_schemas
from engines.rules.pattern_schemas import SCHEMA_FILE, SCHEMAS, json_schema, render_json_schema, required_keys
from outreach.models import Channel, PatternType, Tier

ROOT = Path(__file__).resolve().parents[2]


def test_the_published_json_schema_is_up_to_date():
    published = (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")
    assert published == render_json_schema(), (
        f"{SCHEMA_FILE} is out of date: regenerate it with `python -m engines.rules.pattern_schemas`"
    )


def test_there_is_one_schema_per_pattern_type():
    assert set(SCHEMAS) == set(PatternType.values)
    assert set(json_schema()["properties"]) == set(PatternType.values)


def test_the_schema_vocabularies_are_the_models_vocabularies():
    assert list(typing.get_args(pattern_schemas.ChannelName)) == list(Channel.values)
    assert list(typing.get_args(pattern_schemas.TierName)) == list(Tier.values)


@pytest.mark.parametrize(
    "pattern_type, keys",
    [
        ("who", ["recommended_weights"]),
        ("when", ["best_days", "best_hours", "optimal_sequence_gaps"]),
        ("how", ["best_first_channel", "winning_sequences"]),
        ("what", []),
    ],
)
def test_a_pattern_requires_only_what_its_consumer_reads(pattern_type, keys):
    assert required_keys(pattern_type) == keys
    definition = json_schema()["$defs"][SCHEMAS[pattern_type].__name__]
    assert definition.get("required", []) == keys
    assert definition["additionalProperties"] is True


def test_the_json_schema_carries_the_ranges():
    definitions = json_schema()["$defs"]
    weight = definitions["Weights"]["properties"]["authority"]
    assert (weight["minimum"], weight["maximum"]) == (0.05, 0.5)
    hour = definitions["HourRate"]["properties"]["hour"]
    assert (hour["minimum"], hour["maximum"], hour["type"]) == (0, 23, "integer")
    channel = definitions["HowPattern"]["properties"]["best_first_channel"]
    assert {"enum": list(Channel.values), "type": "string"} in channel["anyOf"]


def test_the_json_schema_is_plain_json():
    assert json.loads(json.dumps(json_schema())) == json_schema()
