"""The plan of one lead: its touches and slots, the strategy it follows and what exploration drew."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

from engines.services.planning.calendar import Slot
from engines.services.planning.exploration import ExplorationRecord
from outreach.models import Lead, ScheduledTouch, TouchStatus


class SequenceTouch(TypedDict):
    touch_number: int
    channel: str


class TouchSlot(TypedDict):
    touch_number: int
    channel: str
    scheduled_at: str  # ISO 8601, the lead's local time
    day_of_week: str
    hour: int


class Touches(TypedDict):
    sequence: list[SequenceTouch]
    scheduled_touches: list[TouchSlot]


class Allocation(Touches):
    """The spec's allocation dict (plus sequence_id and "created"), as allocate_lead returns it."""

    lead_id: int
    sequence_id: str
    patterns_used: dict[str, bool]
    planned_sequence: str
    is_exploration: bool
    exploration: ExplorationRecord | None
    created: bool


def describe_touches(touches: Iterable[tuple[int, str, datetime]]) -> Touches:
    """The spec's "sequence" and "scheduled_touches" from (touch number, channel, local aware time)."""
    touches = list(touches)
    return {
        "sequence": [{"touch_number": n, "channel": channel} for n, channel, _ in touches],
        "scheduled_touches": [
            {
                "touch_number": n,
                "channel": channel,
                "scheduled_at": local.isoformat(),
                "day_of_week": local.strftime("%A"),
                "hour": local.hour,
            }
            for n, channel, local in touches
        ],
    }


@dataclass(frozen=True)
class Timeline:
    """Channels in touch order with their slots; shared by every lead with the same sequence and place."""

    channels: tuple[str, ...]
    slots: tuple[Slot, ...]
    # A re-plan continues a running sequence: its touches keep counting after those already out.
    first_number: int = 1

    def touches(self) -> Iterable[tuple[int, str, Slot]]:
        numbers = range(self.first_number, self.first_number + len(self.channels))
        return zip(numbers, self.channels, self.slots, strict=True)

    @functools.cached_property
    def copy_fields(self) -> tuple[str, ...]:
        """touch_number, channel, scheduled_at and status of each touch, as COPY text columns."""
        return tuple(
            f"{n}\t{channel}\t{slot.utc.isoformat()}\t{TouchStatus.PLANNED}" for n, channel, slot in self.touches()
        )


@dataclass
class Plan:
    """A lead's planned sequence, not saved yet.

    `planned_sequence` is the strategy the allocator chose (the pattern's or
    the default sequence, an exploration's draw, or the override), before it
    was fitted to the channels that reach this lead; the touches are what the
    lead actually gets.
    """

    lead: Lead
    tier: str
    timeline: Timeline
    patterns_used: dict[str, bool]
    planned_sequence: str
    exploration: ExplorationRecord | None = None
    sequence_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # The enrollment the touches are steps of: a re-plan's is the lead's active one, a new plan's is made
    # when it is saved (touch_writer.enroll).
    enrollment_id: int | None = None

    @property
    def exploration_json(self) -> str:
        return json.dumps(self.exploration, separators=(",", ":")) if self.exploration else "{}"

    def as_dict(self) -> Allocation:
        return {
            "lead_id": self.lead.pk,
            "sequence_id": str(self.sequence_id),
            **describe_touches((n, channel, slot.local) for n, channel, slot in self.timeline.touches()),
            "patterns_used": dict(self.patterns_used),
            "planned_sequence": self.planned_sequence,
            "is_exploration": self.exploration is not None,
            "exploration": self.exploration,
            "created": True,
        }

    def touches(self) -> list[ScheduledTouch]:
        """The plan's touches as unsaved rows; only once the plan is enrolled (touch_writer.enroll)."""
        enrollment_id = self.enrollment_id
        if enrollment_id is None:
            raise ValueError(f"the plan of lead {self.lead.pk} is not enrolled yet: touch_writer.enroll it first")
        return [
            ScheduledTouch(
                client_id=self.lead.client_id,
                lead_id=self.lead.pk,
                enrollment_id=enrollment_id,
                sequence_id=self.sequence_id,
                touch_number=n,
                channel=channel,
                scheduled_at=slot.utc,
                status=TouchStatus.PLANNED,
                lead_tier=self.tier,
                planned_sequence=self.planned_sequence,
                is_exploration=self.exploration is not None,
                exploration=self.exploration or {},
            )
            for n, channel, slot in self.timeline.touches()
        ]
