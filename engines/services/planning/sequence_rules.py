"""Which channels a lead's sequence uses, in order (HOW), and which leads may be planned at all.

The *strategy* is the sequence the allocator chose for the client's leads:
the top winning sequence (first six channels) or DEFAULT_SEQUENCE, with
`best_first_channel` as its first channel. It is what the HOW detector
compares (ScheduledTouch.planned_sequence). Each lead then gets the strategy
*fitted* to it: a preferred first channel the lead lacks does not cost a
touch, unreachable channels are dropped and the rest renumbered, and a hot
lead gets voice at touch 3 when the hot tier's voice conversion rate is
above 0.15.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from engines.exceptions import InvalidOverride, NotPlannable
from engines.json_types import JSONObject
from engines.rules.compliance import channel_block_reason, reachable_channels
from engines.rules.pattern_checks import CHANNELS
from engines.services.planning.preferences import no_preference
from engines.services.scoring.lead_score import als_tier
from outreach.models import Channel, Lead, LeadStatus, StopReason, Tier
from outreach.models.choices import LEAD_STATUS_STOPS

DEFAULT_SEQUENCE = ["email", "linkedin", "email", "sms", "voice", "email"]

MAX_PATTERN_TOUCHES = 6
# The spec scores an unscored lead as 50, i.e. warm.
UNSCORED_ALS = 50
HOT_VOICE_RATE = 0.15
HOT_VOICE_INDEX = 2  # touch 3
# Statuses that may get a new sequence: replied, converted and closed leads are not contacted again.
ALLOCATABLE_STATUSES = (LeadStatus.NEW, LeadStatus.IN_SEQUENCE)
# Joins a sequence's channels in ScheduledTouch.planned_sequence ("email>linkedin>sms").
SEPARATOR = ">"


def lead_tier(lead: Lead) -> str:
    score = getattr(lead, "als_score", None)
    return als_tier(UNSCORED_ALS if score is None else score)


def plannable_channels(lead: Lead) -> frozenset[str]:
    """The channels that can reach the lead; NotPlannable with the reason when the lead may get no sequence."""
    status = getattr(lead, "status", LeadStatus.NEW)
    if status not in ALLOCATABLE_STATUSES:
        # A lead that replied, converted or was closed is talking to a person now, not to a sequence (the stop its
        # status says); a finished one gets a new sequence by a deliberate re-enrolment only.
        reason = LEAD_STATUS_STOPS.get(status, f"lead_{status}")
        raise NotPlannable(reason, f"lead {getattr(lead, 'pk', '?')} is {status}: no new sequence")
    reachable = frozenset(reachable_channels(lead))
    if not reachable:
        # do_not_contact and unsubscribed block every channel alike; anything else is per channel.
        shared = channel_block_reason(lead, Channel.EMAIL)
        reason = shared if shared in (StopReason.DO_NOT_CONTACT, StopReason.UNSUBSCRIBED) else "no_reachable_channel"
        raise NotPlannable(reason, f"lead {getattr(lead, 'pk', '?')} cannot be contacted: {reason}")
    return reachable


def base_sequence(how: JSONObject | None) -> tuple[str, ...]:
    """The top winning sequence (first six channels), or DEFAULT_SEQUENCE when the pattern names none."""
    if how and how.get("winning_sequences") and not no_preference(how, "winning_sequences"):
        return tuple(how["winning_sequences"][0]["sequence"][:MAX_PATTERN_TOUCHES])
    return tuple(DEFAULT_SEQUENCE)


def preferred_first(how: JSONObject | None) -> str | None:
    if not how or no_preference(how, "best_first_channel"):
        return None
    return how.get("best_first_channel") or None


def strategy(how: JSONObject | None) -> tuple[str, ...]:
    """The sequence the allocator follows under a HOW pattern, before any lead's reachability."""
    channels = list(base_sequence(how))
    first = preferred_first(how)
    if first:
        channels[0] = first
    return tuple(channels)


def build_sequence(tier: str, how: JSONObject | None, reachable: Iterable[str] = CHANNELS) -> list[str]:
    """The channels of a lead's sequence, in order, under a (valid) HOW pattern."""
    return fit_to_lead(base_sequence(how), tier, how, frozenset(reachable), first=preferred_first(how))


def fit_to_lead(
    channels: Sequence[str], tier: str, how: JSONObject | None, reachable: frozenset[str], *, first: str | None = None
) -> list[str]:
    """`channels` as this lead can receive them.

    `first` only replaces the first channel when it can reach the lead, so a
    preference the lead cannot receive does not cost a touch. The hot-lead
    voice rule looks at the plan after unreachable channels are dropped, so
    voice really is the third touch sent.
    """
    fitted = list(channels)
    if first and first in reachable:
        fitted[0] = first
    fitted = [channel for channel in fitted if channel in reachable]
    if not fitted:
        # The sequence uses only channels this lead lacks: the default covers every channel.
        fitted = [channel for channel in DEFAULT_SEQUENCE if channel in reachable]
    if tier == Tier.HOT and Channel.VOICE in reachable and hot_voice_applies(how):
        _move_voice_to_touch_3(fitted)
    return fitted


def hot_voice_applies(how: JSONObject | None) -> bool:
    """Whether the HOW pattern puts voice at touch 3 for hot leads (voice converts hot leads well enough)."""
    if not how:
        return False
    hot = how.get("channel_effectiveness_by_tier", {}).get(Tier.HOT, {})
    rate: float = hot.get(Channel.VOICE, {}).get("conversion_rate", 0)
    return rate > HOT_VOICE_RATE


def _move_voice_to_touch_3(channels: list[str]) -> None:
    """Voice at touch 3: moved there when it comes later, else it takes touch 3's place (as the spec)."""
    if len(channels) <= HOT_VOICE_INDEX + 1 or Channel.VOICE in channels[: HOT_VOICE_INDEX + 1]:
        return
    if Channel.VOICE in channels:
        channels.remove(Channel.VOICE)
        channels.insert(HOT_VOICE_INDEX, Channel.VOICE)
    else:
        channels[HOT_VOICE_INDEX] = Channel.VOICE


def validate_sequence_override(override: object) -> list[str]:
    """The channels of a `sequence_override`, in touch order; InvalidOverride when it is malformed.

    Accepts the spec's list of {"touch_number", "channel"} (ordered by
    touch_number when every entry has one) or a plain list of channel names.
    """
    if not isinstance(override, (list, tuple)) or not override:
        raise InvalidOverride("sequence_override must be a non-empty list of touches")
    entries = list(override)
    if all(isinstance(entry, dict) for entry in entries):
        channels = _numbered_channels(entries)
    elif all(isinstance(entry, str) for entry in entries):
        channels = entries
    else:
        raise InvalidOverride("sequence_override entries must all be channel names or all {'touch_number', 'channel'}")
    unknown = [channel for channel in channels if not isinstance(channel, str) or channel not in CHANNELS]
    if unknown:
        raise InvalidOverride(f"sequence_override has unknown channels {unknown}; expected {sorted(CHANNELS)}")
    return [channel for channel in channels if isinstance(channel, str)]


def _numbered_channels(entries: list[JSONObject]) -> list[object]:
    numbers = [entry.get("touch_number") for entry in entries]
    if all(number is not None for number in numbers):
        whole = all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in numbers)
        if not whole or len(set(numbers)) != len(numbers):
            raise InvalidOverride(f"sequence_override touch numbers must be distinct whole numbers >= 1, got {numbers}")
        entries = sorted(entries, key=lambda entry: entry["touch_number"])
    elif any(number is not None for number in numbers):
        raise InvalidOverride("sequence_override gives touch_number for some touches only")
    return [entry.get("channel") for entry in entries]
