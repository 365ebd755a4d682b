"""Vocabularies shared by the models, the engines and the database constraints."""

from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    LINKEDIN = "linkedin", "LinkedIn"
    VOICE = "voice", "Voice"


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    IN_SEQUENCE = "in_sequence", "In sequence"
    # Every step of its enrollment went out (or can no longer go out) and nobody answered.
    FINISHED = "finished", "Finished"
    REPLIED = "replied", "Replied"
    CONVERTED = "converted", "Converted"
    CLOSED = "closed", "Closed"


class ActivityAction(models.TextChoices):
    EMAIL_SENT = "email_sent", "Email sent"
    SMS_SENT = "sms_sent", "SMS sent"
    LINKEDIN_SENT = "linkedin_sent", "LinkedIn sent"
    VOICE_COMPLETED = "voice_completed", "Call completed"
    EMAIL_DELIVERED = "email_delivered", "Email delivered"
    EMAIL_OPENED = "email_opened", "Email opened"
    EMAIL_CLICKED = "email_clicked", "Email clicked"
    EMAIL_REPLIED = "email_replied", "Email replied"
    EMAIL_BOUNCED = "email_bounced", "Email bounced"
    EMAIL_DEFERRED = "email_deferred", "Email deferred (soft bounce)"
    EMAIL_AUTO_REPLIED = "email_auto_replied", "Email auto-reply"
    EMAIL_COMPLAINED = "email_complained", "Email marked as spam"
    SMS_DELIVERED = "sms_delivered", "SMS delivered"
    SMS_STATUS = "sms_status", "SMS status (queued or sent)"
    SMS_UNDELIVERED = "sms_undelivered", "SMS undelivered"
    SMS_REPLIED = "sms_replied", "SMS replied"
    SMS_HELP = "sms_help", "SMS help request"
    # A call the provider could not place (Twilio's `failed`): nobody was dialled, so it is not a call made.
    VOICE_FAILED = "voice_failed", "Call failed"
    LINKEDIN_ACCEPTED = "linkedin_accepted", "LinkedIn connection accepted"
    LINKEDIN_REPLIED = "linkedin_replied", "LinkedIn replied"
    OPTED_OUT = "opted_out", "Opted out"
    OPTED_IN = "opted_in", "Opted back in"
    MEETING_BOOKED = "meeting_booked", "Meeting booked"
    # A booking awaiting the host's confirmation: the lead is not converted until it is confirmed (booked).
    MEETING_REQUESTED = "meeting_requested", "Meeting requested (awaiting confirmation)"
    MEETING_RESCHEDULED = "meeting_rescheduled", "Meeting rescheduled"
    MEETING_CANCELLED = "meeting_cancelled", "Meeting cancelled"


SENT_ACTIONS = (
    ActivityAction.EMAIL_SENT,
    ActivityAction.SMS_SENT,
    ActivityAction.LINKEDIN_SENT,
    ActivityAction.VOICE_COMPLETED,
)
REPLY_ACTIONS = (
    ActivityAction.EMAIL_REPLIED,
    ActivityAction.SMS_REPLIED,
    ActivityAction.LINKEDIN_REPLIED,
)


# Which channel each action belongs to; actions absent here (opt-outs, bookings) may carry any channel.
ACTION_CHANNEL: dict[str, str] = {
    action.value: action.value.split("_", 1)[0]
    for action in ActivityAction
    if action.value.split("_", 1)[0] in Channel.values
}


class TaskKind(models.TextChoices):
    LINKEDIN = "linkedin", "LinkedIn message"
    CALL = "call", "Call"
    # A person gets back to a lead by any means (a booked meeting was cancelled); nothing is recorded as sent.
    FOLLOW_UP = "follow_up", "Follow-up"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


class EmailThread(models.TextChoices):
    """Where an email template's follow-up goes: engines.rules.email_threads."""

    REPLY = "reply", "Reply in the enrollment's first email's thread"
    NEW = "new", "Start a new thread with this template's subject"


class MembershipRole(models.TextChoices):
    MANAGER = "manager", "Manager"
    MEMBER = "member", "Member"


class PatternType(models.TextChoices):
    WHO = "who", "WHO (which leads)"
    WHAT = "what", "WHAT (what was said)"
    WHEN = "when", "WHEN (day, hour, gaps)"
    HOW = "how", "HOW (channels)"


class TouchStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    BLOCKED = "blocked", "Blocked"
    CANCELLED = "cancelled", "Cancelled"
    # A LinkedIn or call touch whose ManualTask is open: a person sends it.
    WAITING = "waiting", "Waiting for a person"
    # Left in `sending` by a dead worker and not provably sent or unsent: a person decides.
    REVIEW = "review", "Needs review"


# Touches that have not gone out: still planned, or handed to a person who has not acted yet.
UNSENT_TOUCH_STATUSES = (TouchStatus.PLANNED, TouchStatus.WAITING)
# A sequence is live while one of its touches may still go out or is being settled.
LIVE_TOUCH_STATUSES = (TouchStatus.PLANNED, TouchStatus.WAITING, TouchStatus.SENDING, TouchStatus.REVIEW)
# Leads a reply or a booking still moves on (a finished lead may answer late); the others have had their
# sequence ended by a reply, a booking or a person (LEAD_STATUS_STOPS).
OPEN_LEAD_STATUSES = (LeadStatus.NEW, LeadStatus.IN_SEQUENCE, LeadStatus.FINISHED)


class EnrollmentState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    FINISHED = "finished", "Finished (every step done, no reply)"
    REPLIED = "replied", "Replied"
    CONVERTED = "converted", "Converted (meeting booked)"
    BOUNCED = "bounced", "Bounced"
    OPTED_OUT = "opted_out", "Opted out"
    STOPPED = "stopped", "Stopped by a person"


# An enrollment that may still send; a lead has at most one (enrollment_one_open_per_lead).
OPEN_ENROLLMENT_STATES = (EnrollmentState.ACTIVE, EnrollmentState.PAUSED)


class StopReason(models.TextChoices):
    """Why contact with a lead stopped, on some channels or on all: the one vocabulary of the reason a touch is
    cancelled or blocked with (ScheduledTouch.reason) and an enrollment ends with (Enrollment.end_reason).

    A reason that a flag on the lead records is spelled as that flag (`sms_opted_out`, `phone_unusable`), so a
    send refused by the gate (engines.rules.compliance) and a touch cancelled by the stop read the same.
    Technical reasons a single send is refused or deferred for (`quiet_hours`, `missing_field:first_name`,
    `provider_error`) are not stops and are not listed here. docs/journey.md says what each one does.
    """

    # Every channel: the lead asked, or a person decided.
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    COMPLAINED = "complained", "Marked an email as spam"
    DO_NOT_CONTACT = "do_not_contact", "Do not contact"
    # One channel, the lead's flag of the same name.
    EMAIL_OPTED_OUT = "email_opted_out", "Opted out of email"
    SMS_OPTED_OUT = "sms_opted_out", "Opted out of SMS"
    LINKEDIN_OPTED_OUT = "linkedin_opted_out", "Opted out of LinkedIn"
    VOICE_OPTED_OUT = "voice_opted_out", "Opted out of calls"
    # An address that does not reach the lead: email, SMS and calls (a wrong number), or texts (a landline).
    BOUNCED = "bounced", "Email bounced"
    PHONE_UNUSABLE = "phone_unusable", "Phone unusable (wrong number)"
    # A number that exists but cannot take texts (a landline): SMS only, it may still be called.
    SMS_UNSUPPORTED = "sms_unsupported", "Number cannot take texts"
    # The lead answered, or its status says a person deals with it now.
    REPLIED = "lead_replied", "Replied"
    CONVERTED = "meeting_booked", "Converted (meeting booked)"
    CLOSED = "lead_closed", "Lead closed"
    # Someone at the lead's company answered: the lead's enrollment pauses.
    COLLEAGUE_REPLIED = "colleague_replied", "A colleague replied"
    COLLEAGUE_CONVERTED = "colleague_converted", "A colleague booked a meeting"
    # A person, or the plan itself.
    PAUSED = "paused", "Paused"
    STOPPED = "stopped_by_person", "Stopped by a person"
    REPLANNED = "replanned", "Replaced by a new plan"
    FINISHED = "sequence_complete", "Every step went out"


# The stop each status says when a lead is set to it: its remaining touches do not go out, no new sequence starts.
LEAD_STATUS_STOPS: dict[str, StopReason] = {
    LeadStatus.REPLIED: StopReason.REPLIED,
    LeadStatus.CONVERTED: StopReason.CONVERTED,
    LeadStatus.CLOSED: StopReason.CLOSED,
}
# The opt-out of each channel.
CHANNEL_OPT_OUTS: dict[str, StopReason] = {
    Channel.EMAIL: StopReason.EMAIL_OPTED_OUT,
    Channel.SMS: StopReason.SMS_OPTED_OUT,
    Channel.LINKEDIN: StopReason.LINKEDIN_OPTED_OUT,
    Channel.VOICE: StopReason.VOICE_OPTED_OUT,
}


class Tier(models.TextChoices):
    HOT = "hot", "Hot"
    WARM = "warm", "Warm"
    COOL = "cool", "Cool"


# The lowest ALS score of each tier above "cool".
HOT_MIN_SCORE = 80
WARM_MIN_SCORE = 50


def in_choices(field: str, choices: type[models.TextChoices]) -> models.Q:
    """A Q for a CheckConstraint that keeps `field` inside `choices`."""
    return models.Q(**{f"{field}__in": choices.values})


class AuthStatus(models.TextChoices):
    """The verdict on one sending-domain record (SPF, DKIM or DMARC): engines.rules.dns_auth."""

    PASS = "pass", "Pass"
    # Receivers accept it, but it protects less than it should (e.g. SPF `?all`, DKIM in test mode).
    WARN = "warn", "Pass, with a warning"
    FAIL = "fail", "Fail"
    # The DNS did not answer (timeout, SERVFAIL): nothing is known about this record.
    ERROR = "error", "Could not look up"


# Verdicts a receiver accepts.
PASSING_AUTH_STATUSES = (AuthStatus.PASS, AuthStatus.WARN)


class CheckTrigger(models.TextChoices):
    """What started a sending-domain check."""

    COMMAND = "command", "manage.py check_domains"
    ADMIN = "admin", "Admin action"


class MailboxState(models.TextChoices):
    """Where a sending mailbox is in its life: engines.rules.mailboxes.cap_on says what each may send."""

    # Sends on a ramp (warm-up plan) up to its daily cap, so mailbox providers learn to trust the address.
    WARMING = "warming", "Warming up"
    ACTIVE = "active", "Active"
    # Sends nothing until a person resumes it; its enrollments that already sent from it wait.
    PAUSED = "paused", "Paused"
    # Never sends again; its enrollments move to the client's other mailboxes.
    RETIRED = "retired", "Retired"


# Mailboxes that may send today (within their cap).
SENDING_MAILBOX_STATES = (MailboxState.WARMING, MailboxState.ACTIVE)


class MailboxStateReason(models.TextChoices):
    """Why a mailbox's state last changed."""

    NEW = "new", "New mailbox"
    # Health checks (engines.services.deliverability.mailboxes): the mailbox's own rates, or its domain's.
    BOUNCE_RATE = "bounce_rate", "Hard-bounce rate too high"
    COMPLAINT_RATE = "complaint_rate", "Complaint rate too high"
    DOMAIN_BOUNCE_RATE = "domain_bounce_rate", "Hard-bounce rate of its sending domain too high"
    DOMAIN_COMPLAINT_RATE = "domain_complaint_rate", "Complaint rate of its sending domain too high"
    WARMED_UP = "warmed_up", "Warm-up reached the daily cap"
    BY_PERSON = "by_person", "Changed by a person"
