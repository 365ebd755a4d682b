"""What providers' answers mean, in one place: which failures may be retried, which codes are opt-outs, which
say the number itself cannot be used.

Twilio gives its error codes as integers through its REST client and as
strings in its status callbacks (ErrorCode); both are compared here as text.
"""

from __future__ import annotations

from enum import StrEnum


class NumberFault(StrEnum):
    """What a provider's error says about the recipient's number itself; the business decides what each stops
    (engines.services.journey.contact.NUMBER_FAULT_STOPS)."""

    OPTED_OUT = "opted_out"  # the recipient texted STOP to this sender
    INVALID = "invalid"  # not a number, or no longer in service: it reaches nobody
    NO_SMS = "no_sms"  # a number that takes no texts (a landline)


# Twilio error codes meaning the recipient texted STOP (or equivalent) to this sender.
TWILIO_OPTED_OUT_CODES = frozenset({"21610"})

# Twilio errors that are about the number, not the message or the moment (twilio.com/docs/api/errors/<code>):
# sending again only fails again.
TWILIO_NUMBER_FAULTS: dict[str, NumberFault] = {
    "21211": NumberFault.INVALID,  # Invalid 'To' phone number (at send time)
    "30005": NumberFault.INVALID,  # Unknown destination handset: unknown, inactive, no longer in service
    "21614": NumberFault.NO_SMS,  # 'To' number is not a valid mobile number (at send time)
    "30006": NumberFault.NO_SMS,  # Landline or unreachable carrier
}
# Twilio delivery errors another attempt may get past: the handset off or out of coverage (30003), a failure
# Twilio could not explain (30008). 30007 (carrier filtering) is about the content, not the number, and is
# neither: a resend of the same text is filtered again, a different text may pass.
TWILIO_TRANSIENT_CODES = frozenset({"30003", "30008"})

# Twilio Voice errors that say the dialled number is not a valid one: the call failed before it rang, and no
# later call or text will reach it either.
TWILIO_INVALID_CALLED_NUMBER_CODES = frozenset({"13223", "13224", "21211", "21217"})


def _code(code: int | str | None) -> str:
    return "" if code is None else str(code).strip()


def is_twilio_opt_out(code: int | str | None) -> bool:
    """Whether a Twilio error code (as the REST client or a status callback gives it) means the number opted out."""
    return _code(code) in TWILIO_OPTED_OUT_CODES


def twilio_number_fault(code: int | str | None) -> NumberFault | None:
    """What a Twilio messaging error says about the number (opted out, invalid, no texts), or None when the
    error is about this message or this moment."""
    if is_twilio_opt_out(code):
        return NumberFault.OPTED_OUT
    return TWILIO_NUMBER_FAULTS.get(_code(code))


def is_twilio_transient(code: int | str | None) -> bool:
    """Whether a Twilio delivery error may clear by itself, so sending again later is worth it."""
    return _code(code) in TWILIO_TRANSIENT_CODES


def is_twilio_invalid_called_number(code: int | str | None) -> bool:
    """Whether a Twilio Voice error says the number called is not a valid phone number."""
    return _code(code) in TWILIO_INVALID_CALLED_NUMBER_CODES


def is_retryable_status(status: int) -> bool:
    """An HTTP status a provider may answer differently later: rate limited (429) or a server error (5xx)."""
    return status == 429 or status >= 500
