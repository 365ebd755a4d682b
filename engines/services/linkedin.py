"""Public API: The LinkedIn engine: a message or connection request, sent by a backend or a person.

The code lives in `engines.services.sending.linkedin`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.services.sending.linkedin import send_linkedin

__all__ = ["send_linkedin"]
