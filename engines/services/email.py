"""Public API: The email engine: send one email through anymail and record what was sent.

The code lives in `engines.services.sending.email`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.services.sending.email import send_email

__all__ = ["send_email"]
