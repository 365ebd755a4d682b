"""Public API: The detectors: learn WHO, WHAT, WHEN and HOW conversion patterns from a client's outcomes.

The code lives in `engines.services.learning`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.services.learning import DetectionResult, detect_patterns, run_detectors

__all__ = ["DetectionResult", "detect_patterns", "run_detectors"]
