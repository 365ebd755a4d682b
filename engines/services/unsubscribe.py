"""Public API: Signed one-click unsubscribe links, carried by every email.

The code lives in `engines.services.sending.unsubscribe`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.services.sending.unsubscribe import unsubscribe_url

__all__ = ["unsubscribe_url"]
