"""Public API: The dispatcher: send every due touch exactly once.

The code lives in `engines.services.sending.dispatcher`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.services.sending.dispatcher import dispatch_due_touches

__all__ = ["dispatch_due_touches"]
