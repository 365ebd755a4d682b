"""Public API: The SMS engine: send one text through the configured provider and record what was sent.

The code lives in `engines.services.sending.sms`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.services.sending.sms import send_sms, sms_segment_count

__all__ = ["send_sms", "sms_segment_count"]
