"""Public API: Lead scoring (ALS, 0-100) with weights learned from WHO patterns.

The code lives in `engines.services.scoring.lead_score`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.services.scoring.lead_score import (
    COMPONENT_MAX,
    DEFAULT_WEIGHTS,
    als_tier,
    score_lead,
    score_leads,
    validate_weights,
)

__all__ = ["COMPONENT_MAX", "DEFAULT_WEIGHTS", "als_tier", "score_lead", "score_leads", "validate_weights"]
