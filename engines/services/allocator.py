"""Public API: The allocator: plan each lead's sequence from HOW patterns and schedule it by WHEN patterns.

The code lives in `engines.services.planning.allocator`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.services.planning.allocator import (
    DEFAULT_BEST_DAYS,
    DEFAULT_BEST_HOURS,
    DEFAULT_GAPS,
    DEFAULT_SEQUENCE,
    allocate_lead,
    allocate_leads,
)

__all__ = [
    "DEFAULT_BEST_DAYS",
    "DEFAULT_BEST_HOURS",
    "DEFAULT_GAPS",
    "DEFAULT_SEQUENCE",
    "allocate_lead",
    "allocate_leads",
]
