"""Public API: What a message says: vocabularies, feature extraction and the content snapshot.

The code lives in `engines.rules.content`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.rules.content import (
    CTA_PATTERNS,
    PAIN_POINT_KEYWORDS,
    build_content_snapshot,
    detect_personalization,
    extract_cta,
    extract_pain_points,
)

__all__ = [
    "CTA_PATTERNS",
    "PAIN_POINT_KEYWORDS",
    "build_content_snapshot",
    "detect_personalization",
    "extract_cta",
    "extract_pain_points",
]
