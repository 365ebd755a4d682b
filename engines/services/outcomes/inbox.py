"""The reply inbox: the replies of a set of clients, newest first, and a person's decision about each.

A reply (email, SMS or LinkedIn) is shown with its words (Activity.reply_text: the new part first, the quoted
history apart), its intent as outcomes.intent read it (a person may correct it: set_intent), and the message it
answered (its `in_reply_to` touch's content snapshot). It is *waiting* while its lead is still `replied` and
nobody has decided about it.

A decision (decide) goes through the services that own contact state, never around them: interested is
recorded only (the reply already ended the sequence; a person answers the lead); not interested and wrong person
stop an open enrollment if the lead has one (journey.actions.stop); later re-enrols the lead when no enrollment
is open (journey.actions.reenroll) and pauses it until the date given (journey.actions.pause with its resume
time: journey.actions.resume_due plans the steps again then); unsubscribe is the reply read as a request to stop
(events.record_read_reply: every channel stops); meeting booked is a booking (events.record_booking: the lead
converts). Each decision is stored on the reply (metadata `decision`, and every one in `decisions`: what, who,
when, the date and note) in the same transaction as its effect, and is idempotent: the form says how many
decisions it saw, so a double submit, or a decision taken meanwhile by someone else, applies nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from engines.exceptions import JourneyError
from engines.json_types import JSONValue
from engines.rules.geography import lead_timezone
from engines.rules.provider_input import clean_text
from engines.services.journey import actions
from engines.services.outcomes import events
from engines.services.outcomes.intent import _QUOTE_RE, Reading, ReplyIntent
from outreach.models import Activity, Client, Enrollment, Lead, LeadStatus
from outreach.models.choices import OPEN_ENROLLMENT_STATES, REPLY_ACTIONS

# The provider name of what the inbox records through the outcomes services (an opt-out, a booking).
SOURCE = "inbox"
# When a "later" reply names no date, the date the form offers.
DEFAULT_LATER = timedelta(days=30)


class Decision(StrEnum):
    """What a person decided about a reply."""

    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    LATER = "later"
    WRONG_PERSON = "wrong_person"
    UNSUBSCRIBE = "unsubscribe"
    MEETING_BOOKED = "meeting_booked"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Show(StrEnum):
    """Which replies the inbox lists."""

    ALL = "all"
    WAITING = "waiting"
    DECIDED = "decided"


@dataclass(frozen=True)
class Answered:
    """The message a reply answered, as its content snapshot recorded it."""

    activity_id: str
    channel: str
    subject: str
    body: str
    sent_at: datetime


@dataclass(frozen=True)
class ReplyView:
    """A reply as the inbox shows it."""

    reply: Activity
    new_text: str
    quoted_text: str
    intent: str
    intent_read: str
    later: str
    decisions: tuple[Mapping[str, JSONValue], ...]
    waiting: bool
    answered: Answered | None

    @property
    def decision(self) -> Mapping[str, JSONValue] | None:
        return self.decisions[-1] if self.decisions else None

    @property
    def decision_text(self) -> str:
        """The last decision in words: "Not interested by alex at 2026-12-07 10:30"; "" when none."""
        return "" if self.decision is None else _described(self.decision).capitalize()


@dataclass(frozen=True)
class Decided:
    """What decide did: `applied` is False when the same decision was recorded already (a double submit)."""

    decision: Decision
    applied: bool
    detail: str


# ----------------------------------------------------------------------------
# Listing
# ----------------------------------------------------------------------------


def waiting() -> Q:
    """The replies waiting for a person: the lead is still `replied` and nobody decided about the reply."""
    return Q(lead__status=LeadStatus.REPLIED) & ~Q(metadata__has_key="decision")


def replies(
    clients: QuerySet[Client] | None = None, *, show: str = Show.ALL, query: str = "", client_id: int | None = None
) -> QuerySet[Activity]:
    """The replies of `clients` (None: every client), newest first: all, waiting or decided ones, of one client
    (`client_id`), and those whose text contains `query` (case-insensitive)."""
    found = Activity.objects.filter(action__in=REPLY_ACTIONS)
    if clients is not None:
        found = found.filter(client_id__in=clients.values("pk"))
    if client_id is not None:
        found = found.filter(client_id=client_id)
    if show == Show.WAITING:
        found = found.filter(waiting())
    elif show == Show.DECIDED:
        found = found.filter(metadata__has_key="decision")
    words = clean_text(query).strip()
    if words:
        found = found.filter(reply_text__icontains=words)
    return found.select_related("lead", "client", "in_reply_to").order_by("-created_at", "-pk")


def split_reply(text: str) -> tuple[str, str]:
    """A reply's new words and the quoted history under them ("On ... wrote:", "> ", "-----Original
    Message-----", as outcomes.intent cuts them); the history is "" when there is none."""
    match = _QUOTE_RE.search(text)
    if match is None:
        return text.strip(), ""
    return text[: match.start()].rstrip(), text[match.start() :].strip()


def describe(reply: Activity) -> ReplyView:
    """What the inbox shows of `reply` (its lead and `in_reply_to` loaded with it, as replies() does)."""
    metadata = reply.metadata if isinstance(reply.metadata, dict) else {}
    new_text, quoted_text = split_reply(reply.reply_text)
    history = decisions_of(reply)
    return ReplyView(
        reply=reply,
        new_text=new_text,
        quoted_text=quoted_text,
        intent=_text(metadata.get("intent")) or ReplyIntent.UNKNOWN.value,
        intent_read=_text(metadata.get("intent_read")),
        later=_text(metadata.get("later")),
        decisions=tuple(history),
        waiting=reply.lead.status == LeadStatus.REPLIED and not history,
        answered=answered_message(reply),
    )


def answered_message(reply: Activity) -> Answered | None:
    """The touch `reply` answered, with the subject and body its content snapshot kept; None when unknown."""
    sent = reply.in_reply_to
    if sent is None:
        return None
    snapshot = sent.content_snapshot if isinstance(sent.content_snapshot, dict) else {}
    return Answered(
        activity_id=str(sent.pk),
        channel=sent.channel,
        subject=_text(snapshot.get("subject")),
        body=_text(snapshot.get("body")),
        sent_at=sent.created_at,
    )


def decisions_of(reply: Activity) -> list[Mapping[str, JSONValue]]:
    """The decisions recorded on `reply`, oldest first."""
    metadata = reply.metadata if isinstance(reply.metadata, dict) else {}
    stored = metadata.get("decisions")
    if not isinstance(stored, list):
        return []
    return [entry for entry in stored if isinstance(entry, dict)]


def later_default(reply: Activity, today: date | None = None) -> date:
    """The date the form offers for "later": the one the reply named (metadata `later`), else 30 days on."""
    today = today or timezone.localdate()
    named = _text(reply.metadata.get("later")) if isinstance(reply.metadata, dict) else ""
    try:
        found = date.fromisoformat(named) if named else None
    except ValueError:
        found = None
    return found if found is not None and found > today else today + DEFAULT_LATER


# ----------------------------------------------------------------------------
# A person's changes
# ----------------------------------------------------------------------------


def set_intent(reply: Activity, intent: str, *, by: AbstractBaseUser | None) -> bool:
    """A person's reading of `reply`: its intent becomes `intent` (the reading of outcomes.intent is kept as
    `intent_read`), with who and when; whether it changed. JourneyError for an intent that does not exist."""
    try:
        chosen = ReplyIntent(intent)
    except ValueError as error:
        raise JourneyError("unknown_intent", f"unknown intent {intent!r}") from error
    with transaction.atomic():
        current = _locked(reply)
        metadata: dict[str, JSONValue] = dict(current.metadata) if isinstance(current.metadata, dict) else {}
        if metadata.get("intent") == chosen.value:
            return False
        if "intent_read" not in metadata:
            metadata["intent_read"] = _text(metadata.get("intent")) or ReplyIntent.UNKNOWN.value
        metadata["intent"] = chosen.value
        metadata["intent_set"] = {**_who(by), "at": timezone.now().isoformat()}
        Activity.objects.filter(pk=current.pk).update(metadata=metadata)
    reply.metadata = metadata
    return True


def decide(
    reply: Activity,
    decision: str,
    *,
    by: AbstractBaseUser | None,
    seen: int | None = None,
    until: date | None = None,
    note: str = "",
) -> Decided:
    """Apply a person's `decision` about `reply` and record it on the reply, in one transaction.

    `seen`: how many decisions the person's page showed. When more are recorded now, the page was stale (a
    double submit, or someone else decided meanwhile): nothing is applied, quietly when the last decision is
    this one, else JourneyError("decided_meanwhile"). Without `seen`, the last decision repeated applies
    nothing. `until` (a date, required for "later"): the day the lead's enrollment resumes, at midnight on the
    lead's clock. JourneyError when the journey service refuses (the lead may not be contacted, ...): nothing
    is changed then."""
    chosen = _decision(decision)
    resume_at = _resume_time(reply.lead, until) if chosen == Decision.LATER else None
    with transaction.atomic():
        current = _locked(reply)
        history = decisions_of(current)
        last = history[-1] if history else None
        if last is not None and last.get("decision") == chosen.value and (seen is None or len(history) > seen):
            return Decided(chosen, False, f"already recorded: {_described(last)}")
        if seen is not None and len(history) != seen and last is not None:
            raise JourneyError(
                "decided_meanwhile", f"this reply was decided meanwhile ({_described(last)}): nothing was changed"
            )
        detail = _apply(current, chosen, by=by, resume_at=resume_at, note=note)
        entry: dict[str, JSONValue] = {"decision": chosen.value, **_who(by), "at": timezone.now().isoformat()}
        if until is not None and chosen == Decision.LATER:
            entry["until"] = until.isoformat()
        if note:
            entry["note"] = note
        metadata: dict[str, JSONValue] = dict(current.metadata) if isinstance(current.metadata, dict) else {}
        metadata["decision"] = entry
        metadata["decisions"] = [*history, entry]
        Activity.objects.filter(pk=current.pk).update(metadata=metadata)
    reply.metadata = metadata
    return Decided(chosen, True, detail)


def _apply(
    reply: Activity, decision: Decision, *, by: AbstractBaseUser | None, resume_at: datetime | None, note: str
) -> str:
    """Have the owner of contact state apply `decision`; what it did."""
    lead = Lead.objects.select_related("client").get(pk=reply.lead_id)
    who: dict[str, JSONValue] = {**_who(by), "reply": str(reply.pk)}
    if decision == Decision.INTERESTED:
        return "recorded: the lead is yours to answer"
    if decision in (Decision.NOT_INTERESTED, Decision.WRONG_PERSON):
        if _open_enrollment(lead) is None and lead.status not in actions.CLOSABLE_STATUSES:
            return "recorded: no sequence was left to stop"
        change = actions.stop(lead, by=by, reason=decision.value, note=note)
        return f"recorded: the lead is closed ({change.cancelled} steps cancelled)"
    if decision == Decision.LATER:
        assert resume_at is not None
        if _open_enrollment(lead) is None:
            actions.reenroll(lead, by=by, note=note)
        change = actions.pause(lead, by=by, reason=decision.value, until=resume_at, note=note)
        return f"paused until {resume_at:%Y-%m-%d %H:%M %Z} ({change.cancelled} steps wait until then)"
    if decision == Decision.UNSUBSCRIBE:
        events.record_read_reply(
            lead, Reading(ReplyIntent.UNSUBSCRIBE), channel=reply.channel, provider=SOURCE,
            event_id=f"{SOURCE}:{reply.pk}:unsubscribe", at=timezone.now(), answers=reply.in_reply_to, metadata=who,
        )  # fmt: skip
        return "unsubscribed from every channel; planned touches cancelled"
    events.record_booking(lead, source=SOURCE, event_id=f"{SOURCE}:{reply.pk}:meeting", metadata=who)
    return "meeting booked: the lead converted"


def _decision(decision: str) -> Decision:
    try:
        return Decision(decision)
    except ValueError as error:
        raise JourneyError("unknown_decision", f"unknown decision {decision!r}") from error


def _resume_time(lead: Lead, until: date | None) -> datetime:
    """Midnight of `until` on the lead's clock; JourneyError unless it is a day after the lead's today."""
    zone = lead_timezone(lead, lead.client)
    if until is None or until <= timezone.now().astimezone(zone).date():
        raise JourneyError("invalid_resume_date", "give the date to try again: a day after today")
    return datetime.combine(until, time.min, tzinfo=zone)


def _open_enrollment(lead: Lead) -> Enrollment | None:
    return Enrollment.objects.filter(lead_id=lead.pk, state__in=list(OPEN_ENROLLMENT_STATES)).first()


def _locked(reply: Activity) -> Activity:
    """The reply's row, locked for the caller's transaction and read afresh; JourneyError when it is none."""
    found = Activity.objects.select_for_update().filter(pk=reply.pk, action__in=REPLY_ACTIONS).first()
    if found is None:
        raise JourneyError("reply_not_found", f"reply {reply.pk} no longer exists")
    return found


def _who(by: AbstractBaseUser | None) -> dict[str, JSONValue]:
    if by is None:
        return {"by": "", "by_id": None}
    return {"by": by.get_username(), "by_id": by.pk if isinstance(by.pk, int) else str(by.pk)}


def _described(entry: Mapping[str, JSONValue]) -> str:
    decision = _text(entry.get("decision")).replace("_", " ")
    by = _text(entry.get("by")) or "someone"
    return f"{decision} by {by} at {_text(entry.get('at'))[:16].replace('T', ' ')}"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
