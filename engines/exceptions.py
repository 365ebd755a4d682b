"""Errors the engines raise; callers (tasks, admin, commands) decide what to do with them."""


class EngineError(Exception):
    """Base of every engine error."""


class SendBlocked(EngineError):
    """A send was refused before any provider was called (compliance or missing data).

    `reason` is a short machine-readable code: a StopReason when the lead's
    contact stopped ("do_not_contact", "unsubscribed", "bounced",
    "sms_opted_out", "lead_replied", ...), else what a send lacks ("no_phone",
    "quiet_hours", "missing_field:first_name", ...).
    """

    def __init__(self, reason: str, message: str | None = None):
        self.reason = reason
        super().__init__(message or reason)


class MissingField(SendBlocked):
    """A template placeholder has no data for this lead and no fallback (`{first_name}` with no first name).

    `reason` is "missing_field:<name>"; the touch is blocked, not retried: fill the
    lead's field, or give the placeholder a fallback (`{first_name|there}`).
    """

    def __init__(self, field: str, message: str | None = None):
        self.field = field
        super().__init__(
            f"missing_field:{field}",
            message or f"no {field} for this lead and no fallback: fill it in or write {{{field}|fallback}}",
        )


class EnrollmentNotActive(SendBlocked):
    """The touch's enrollment was paused or ended after the touch was planned: `state` says which. A paused
    enrollment's step is cancelled like its other unsent steps, so that resuming plans it again."""

    def __init__(self, state: str):
        self.state = state
        super().__init__(f"enrollment_{state}", f"the enrollment is {state}: its steps do not go out")


class InvalidTouch(EngineError, ValueError):
    """What a touch would send or record is invalid (over-long note, unknown outcome, empty message...).

    Raised before any provider is called.
    """


class ProviderError(EngineError):
    """A provider refused or failed a send. `retryable` is true for timeouts, 429 and 5xx."""

    def __init__(self, message: str, *, retryable: bool = False, code: str | int | None = None):
        self.retryable = retryable
        self.code = code
        super().__init__(message)


class SentNotRecorded(EngineError):
    """Sent, not recorded: the provider accepted the message, then writing its Activity failed.

    Never retry the send: it went out. The provider message id is in the
    error and in an ERROR log line; the touch is left for a person to record
    (status `review`) with that id.
    """

    def __init__(self, message: str, *, provider_message_id: str, channel: str = "", touch_id: int | None = None):
        self.provider_message_id = provider_message_id
        self.channel = channel
        self.touch_id = touch_id
        super().__init__(f"sent, not recorded: {message} (provider message id {provider_message_id!r})")


class PlanningError(EngineError):
    """A lead's sequence could not be planned; nothing was saved."""


class NotPlannable(PlanningError):
    """The lead may not get a new sequence; `reason` says why, like SendBlocked's.

    "lead_replied" / "meeting_booked" / "lead_closed" (the StopReason of its status: a person
    talks to the lead now), "do_not_contact", "unsubscribed", or "no_reachable_channel" (fill in
    an email, phone or LinkedIn URL the lead can be reached on).
    """

    def __init__(self, reason: str, message: str | None = None):
        self.reason = reason
        super().__init__(message or reason)


class InvalidOverride(PlanningError, ValueError):
    """A `sequence_override` is malformed: give a non-empty list of channel names, or of
    {"touch_number", "channel"} with distinct whole touch numbers."""


class NoContactWindow(PlanningError):
    """No business day of the coming year has an hour at which the channel may reach the lead's country."""


class JourneyError(EngineError):
    """A change to a lead's journey (pause, resume, stop, re-enrol, do-not-contact, opt-out) was refused; nothing
    changed. `reason` is machine-readable ("no_active_enrollment", "not_paused", "do_not_contact", "already_enrolled",
    "reason_required", ...), the message says what to do instead.
    """

    def __init__(self, reason: str, message: str | None = None):
        self.reason = reason
        super().__init__(message or reason)


class InvalidPattern(EngineError):
    """A conversion pattern does not match its schema (see DESIGN.md)."""

    def __init__(self, pattern_type: str, errors: list[str]):
        self.pattern_type = pattern_type
        self.errors = errors
        super().__init__(f"invalid {pattern_type} pattern: " + "; ".join(errors))


class NotEnoughEvidence(EngineError):
    """A detector's data cannot support a pattern (too few finished units or outcomes); nothing is saved.

    Wait for more outcomes, or widen the detection window (`window_days`).
    """
