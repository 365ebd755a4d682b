"""One registry of detectors: each pattern type's learning function, run and saved the same way."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.utils import timezone

from engines.exceptions import NotEnoughEvidence
from engines.json_types import JSONObject
from engines.services.learning.evidence import WINDOW_DAYS, Evidence, load_evidence
from engines.services.learning.persistence import VALID_DAYS, DetectionResult, save_pattern
from outreach.models import Client, ConversionPattern, PatternType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detector:
    """A pattern type's learning: `learn(evidence, **options)` returns the pattern data or raises NotEnoughEvidence.

    `content`: it reads the content columns of the evidence. `after_save` runs
    once a pattern was saved (WHO keeps the client's fallback weights up to date).
    """

    pattern_type: str
    learn: Callable[..., JSONObject]
    content: bool = False
    after_save: Callable[[Client, ConversionPattern], None] | None = None


Learn = TypeVar("Learn", bound=Callable[..., JSONObject])

DETECTORS: dict[str, Detector] = {}
# Detectors run (and are reported) in this order, whatever order their modules were imported in.
ORDER: tuple[str, ...] = tuple(PatternType.values)


def register(
    pattern_type: str,
    *,
    content: bool = False,
    after_save: Callable[[Client, ConversionPattern], None] | None = None,
) -> Callable[[Learn], Learn]:
    """Decorator: register a learning function as the detector of `pattern_type`."""

    def decorate(learn: Learn) -> Learn:
        DETECTORS[pattern_type] = Detector(pattern_type, learn, content=content, after_save=after_save)
        for name in sorted(DETECTORS, key=ORDER.index):
            DETECTORS[name] = DETECTORS.pop(name)
        return learn

    return decorate


def detect(
    pattern_type: str,
    client: Client,
    *,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    valid_days: int = VALID_DAYS,
    evidence: Evidence | None = None,
    **options: object,
) -> DetectionResult:
    """Learn and save the client's pattern of `pattern_type`; without enough evidence nothing is saved.

    The evidence is loaded unless given (run_detectors reads it once for all
    four); `options` go to the learning function (WHAT and WHEN take `outcome`).
    """
    detector = DETECTORS[pattern_type]
    now = now or timezone.now()
    if evidence is None or (detector.content and not evidence.has_content):
        evidence = load_evidence(client, now=now, window_days=window_days, content=detector.content)
    try:
        data = detector.learn(evidence, **options)
    except NotEnoughEvidence as skipped:
        logger.info("%s pattern of client %s not saved: %s", pattern_type, client.pk, skipped)
        return DetectionResult(pattern_type, None, str(skipped))
    pattern = save_pattern(client, pattern_type, data, now=evidence.now, valid_days=valid_days)
    if detector.after_save is not None:
        detector.after_save(client, pattern)
    reason = f"saved from {data['sample_size']} {data['unit']}, confidence {data['confidence']:.2f}"
    if not pattern.activated:
        reason += ", not activated"
    logger.info("%s pattern of client %s %s", pattern_type, client.pk, reason)
    return DetectionResult(pattern_type, pattern, reason)


def run_detectors(
    client: Client,
    *,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    valid_days: int = VALID_DAYS,
) -> dict[str, DetectionResult]:
    """Run every detector on evidence read once; each result says what was saved, or why nothing was."""
    evidence = load_evidence(client, now=now or timezone.now(), window_days=window_days, content=True)
    return {
        pattern_type: detect(pattern_type, client, evidence=evidence, window_days=window_days, valid_days=valid_days)
        for pattern_type in DETECTORS
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
    return {pattern_type: result.pattern for pattern_type, result in results.items() if result.pattern is not None}
