"""What the demo did to its prospects, counted from what went out: the figures a prospect would notice.

A good run has zeros where it says "should be 0": no lead got a step of its
sequence twice or the same text twice, no lead is shown in a sequence with
nothing left to send (a paused enrollment aside: it waits for a person, e.g.
after a colleague at the same company answered), and no lead's status
disagrees with its enrollments (journey.enrollments.status_disagreements). `most_sends_to_one_lead`
is at most the longest sequence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, Max, OuterRef

from engines.services.journey.enrollments import status_disagreements
from outreach.models import Activity, Client, Enrollment, EnrollmentState, Lead, LeadStatus, ScheduledTouch
from outreach.models.choices import LIVE_TOUCH_STATUSES, SENT_ACTIONS


@dataclass(frozen=True)
class JourneyFigures:
    leads_given_a_step_twice: int
    leads_given_a_text_twice: int
    most_sends_to_one_lead: int
    in_sequence_with_nothing_left: int
    status_disagrees_with_enrollments: int

    def lines(self) -> list[str]:
        return [
            f"  leads given one step twice: {self.leads_given_a_step_twice:,} (should be 0)",
            f"  leads given one text twice: {self.leads_given_a_text_twice:,} (should be 0)",
            f"  most sends to one lead: {self.most_sends_to_one_lead:,}",
            f"  leads shown in a sequence with nothing left to send: {self.in_sequence_with_nothing_left:,}"
            " (should be 0)",
            f"  leads whose status disagrees with their enrollments: {self.status_disagrees_with_enrollments:,}"
            " (should be 0)",
        ]


def measure(clients: Iterable[Client]) -> JourneyFigures:
    sent = Activity.objects.filter(client__in=list(clients), action__in=SENT_ACTIONS)
    steps_twice = (
        sent.values("lead_id", "sequence_id", "touch_number").annotate(n=Count("pk")).filter(n__gt=1).order_by()
    )
    texts: Counter[tuple[int, str]] = Counter()
    for lead_id, snapshot in sent.values_list("lead_id", "content_snapshot").iterator(chunk_size=2000):
        body = (snapshot or {}).get("body") if isinstance(snapshot, dict) else None
        if body:
            texts[lead_id, str(body)] += 1
    per_lead = sent.values("lead_id").annotate(n=Count("pk")).order_by().aggregate(most=Max("n"))
    live = ScheduledTouch.objects.filter(lead=OuterRef("pk"), status__in=LIVE_TOUCH_STATUSES)
    paused = Enrollment.objects.filter(lead=OuterRef("pk"), state=EnrollmentState.PAUSED)
    stale = Lead.objects.filter(client__in=list(clients), status=LeadStatus.IN_SEQUENCE).filter(
        ~Exists(live), ~Exists(paused)
    )
    return JourneyFigures(
        leads_given_a_step_twice=len({row["lead_id"] for row in steps_twice}),
        leads_given_a_text_twice=len({lead_id for (lead_id, _), n in texts.items() if n > 1}),
        most_sends_to_one_lead=per_lead["most"] or 0,
        in_sequence_with_nothing_left=stale.count(),
        status_disagrees_with_enrollments=status_disagreements(Lead.objects.filter(client__in=list(clients))).count(),
    )
