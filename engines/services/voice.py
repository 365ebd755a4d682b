"""Public API: The voice engine: record a completed call.

The code lives in `engines.services.sending.voice`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.services.sending.voice import complete_call

__all__ = ["complete_call"]
