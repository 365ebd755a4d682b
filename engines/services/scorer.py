"""Lead scoring (ALS, 0-100) with weights learned from WHO patterns."""
from __future__ import annotations

from typing import Any

from engines.services.patterns import weights_errors
from outreach.models import Tier

DEFAULT_WEIGHTS = {
    "data_quality": 0.20,
    "authority": 0.25,
    "company_fit": 0.25,
    "timing": 0.15,
}

COMPONENT_MAX = {
    "data_quality": 20,
    "authority": 25,
    "company_fit": 25,
    "timing": 15,
    "risk": 15,
}


def validate_weights(weights: Any) -> bool:
    """Four numeric weights, each in [0.05, 0.50], summing to 0.80-0.90."""
    return not weights_errors(weights)


def als_tier(score: int | None) -> str:
    """hot >= 80, warm >= 50, else cool."""
    if score is not None and score >= 80:
        return Tier.HOT
    if score is not None and score >= 50:
        return Tier.WARM
    return Tier.COOL
