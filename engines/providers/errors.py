"""What providers' answers mean, in one place: which failures may be retried, which codes are opt-outs.

Twilio gives its error codes as integers through its REST client and as
strings in its status callbacks (ErrorCode); both are compared here as text.
"""

from __future__ import annotations

# Twilio error codes meaning the recipient texted STOP (or equivalent) to this sender.
TWILIO_OPTED_OUT_CODES = frozenset({"21610"})


def is_twilio_opt_out(code: int | str | None) -> bool:
    """Whether a Twilio error code (as the REST client or a status callback gives it) means the number opted out."""
    return code is not None and str(code).strip() in TWILIO_OPTED_OUT_CODES


def is_retryable_status(status: int) -> bool:
    """An HTTP status a provider may answer differently later: rate limited (429) or a server error (5xx)."""
    return status == 429 or status >= 500
