"""Errors the engines raise; callers (tasks, admin, commands) decide what to do with them."""


class EngineError(Exception):
    """Base of every engine error."""


class SendBlocked(EngineError):
    """A send was refused before any provider was called (compliance or missing data).

    `reason` is a short machine-readable code such as "do_not_contact",
    "unsubscribed", "bounced", "no_phone" or "quiet_hours".
    """

    def __init__(self, reason: str, message: str | None = None):
        self.reason = reason
        super().__init__(message or reason)


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


class InvalidPattern(EngineError):
    """A conversion pattern does not match its schema (see DESIGN.md)."""

    def __init__(self, pattern_type: str, errors: list[str]):
        self.pattern_type = pattern_type
        self.errors = errors
        super().__init__(f"invalid {pattern_type} pattern: " + "; ".join(errors))
