"""The detectors: learn WHO, WHAT, WHEN and HOW conversion patterns from a client's outcomes.

Each detector reads the same evidence (common.load_evidence: the window's
touches and outcomes, every lead labelled converted / not converted / in
flight), learns, and saves a new ConversionPattern valid for `valid_days`
(history is kept; the newest valid one is active). A detector without enough
evidence saves nothing: the consumers then keep the active pattern while it
is still valid, and their defaults after.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from engines.services.detectors.common import VALID_DAYS, WINDOW_DAYS, DetectionResult, load_evidence
from engines.services.detectors.how import detect_how
from engines.services.detectors.what import detect_what
from engines.services.detectors.when import detect_when
from engines.services.detectors.who import detect_who
from outreach.models import Client, ConversionPattern

DETECTORS = {"who": detect_who, "what": detect_what, "when": detect_when, "how": detect_how}

__all__ = [
    "DETECTORS",
    "DetectionResult",
    "detect_how",
    "detect_patterns",
    "detect_what",
    "detect_when",
    "detect_who",
    "run_detectors",
]


def run_detectors(
    client: Client,
    *,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    valid_days: int = VALID_DAYS,
) -> dict[str, DetectionResult]:
    """Run the four detectors on evidence read once; each result says what was saved, or why nothing was."""
    evidence = load_evidence(client, now=now or timezone.now(), window_days=window_days, content=True)
    return {
        pattern_type: detect(client, evidence=evidence, window_days=window_days, valid_days=valid_days)
        for pattern_type, detect in DETECTORS.items()
    }


def detect_patterns(
    client: Client,
    *,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    valid_days: int = VALID_DAYS,
) -> dict[str, ConversionPattern]:
    """Learn and save the client's patterns; returns the saved ones by type ("who", "what", "when", "how").

    A type whose detector lacked evidence is an absent key (nothing was saved
    for it); `run_detectors` tells why.
    """
    results = run_detectors(client, now=now, window_days=window_days, valid_days=valid_days)
    return {pattern_type: result.pattern for pattern_type, result in results.items() if result.saved}
