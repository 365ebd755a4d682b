"""Learning, the last stage: WHO, WHAT, WHEN and HOW conversion patterns learned from a client's outcomes.

Each detector reads the same evidence (evidence.load_evidence: the window's
touches and outcomes, every lead labelled converted / not converted / in
flight), learns, and saves a new ConversionPattern valid for `valid_days`
(history is kept; the newest valid, activated one is active). A detector
without enough evidence saves nothing: the consumers then keep the active
pattern while it is still valid, and their defaults after.

A detector names a preference (a best day, a winning sequence, an effective
CTA) only when the evidence carries it (stats.judge); otherwise the part is
empty or null and listed under "no_preference", and consumers keep their
defaults for it.

May import: every earlier stage (outcomes, sending, journey, planning,
scoring, intake), the pattern store, rules, db, models. The public names are
re-exported by `engines.services.detectors`.
"""

from __future__ import annotations

# Importing the detector modules registers them, in this order.
from engines.services.learning import how, what, when, who  # noqa: F401  (registration side effect)
from engines.services.learning.persistence import DetectionResult
from engines.services.learning.registry import DETECTORS, detect, detect_patterns, run_detectors

__all__ = ["DETECTORS", "DetectionResult", "detect", "detect_patterns", "run_detectors"]
