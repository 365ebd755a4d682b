"""The public API stays importable where docs/architecture.md ("Public API") says it is."""

import importlib
from pathlib import Path

import pytest
from django.urls import reverse

PUBLIC_API = {
    "engines.services.content": [
        "PAIN_POINT_KEYWORDS",
        "CTA_PATTERNS",
        "extract_pain_points",
        "extract_cta",
        "detect_personalization",
        "build_content_snapshot",
    ],
    "engines.services.email": ["send_email"],
    "engines.services.sms": ["send_sms", "sms_segment_count"],
    "engines.services.linkedin": ["send_linkedin"],
    "engines.services.voice": ["complete_call"],
    "engines.services.scorer": [
        "DEFAULT_WEIGHTS",
        "COMPONENT_MAX",
        "score_lead",
        "score_leads",
        "validate_weights",
        "als_tier",
    ],
    "engines.services.allocator": [
        "allocate_lead",
        "DEFAULT_SEQUENCE",
        "DEFAULT_GAPS",
        "DEFAULT_BEST_DAYS",
        "DEFAULT_BEST_HOURS",
    ],
    "engines.services.patterns": ["get_active_pattern"],
    "engines.services.detectors": ["detect_patterns"],
    "engines.services.dispatch": ["dispatch_due_touches"],
    "engines.services.unsubscribe": ["unsubscribe_url"],
    "engines.services.manual_tasks": ["complete_task", "skip_task"],
    "engines.providers.sms": ["RecordingSmsProvider"],
    "engines.exceptions": ["EngineError", "SendBlocked", "ProviderError"],
    "outreach.models": ["Client", "Lead", "Activity", "ConversionPattern", "ScheduledTouch", "MessageTemplate"],
}

ENGINES = Path(__file__).resolve().parents[2] / "engines"
MAX_MODULES_PER_FOLDER = 15


@pytest.mark.parametrize(("module", "names"), PUBLIC_API.items())
def test_each_public_name_imports_from_its_documented_module(module, names):
    imported = importlib.import_module(module)
    assert [name for name in names if not hasattr(imported, name)] == []


def test_the_re_exports_are_the_stage_functions_themselves():
    from engines.services import dispatch, scorer
    from engines.services.scoring import lead_score
    from engines.services.sending import dispatcher

    assert dispatch.dispatch_due_touches is dispatcher.dispatch_due_touches
    assert scorer.score_leads is lead_score.score_leads


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("unsubscribe", ["token"]),
        ("twilio-sms-status", []),
        ("twilio-sms-inbound", []),
        ("twilio-voice-status", []),
        ("booking-webhook", []),
    ],
)
def test_the_public_url_names_reverse(name, args):
    assert reverse(name, args=args).startswith("/")


def test_no_folder_of_engines_holds_more_than_fifteen_modules():
    crowded = {
        str(folder.relative_to(ENGINES.parent)): count
        for folder in [ENGINES, *(path for path in ENGINES.rglob("*") if path.is_dir())]
        if (count := len(list(folder.glob("*.py")))) > MAX_MODULES_PER_FOLDER
    }
    assert crowded == {}
