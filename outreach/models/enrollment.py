from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import OPEN_ENROLLMENT_STATES, EnrollmentState, StopReason, in_choices


class Enrollment(models.Model):
    """One lead in one planned sequence: its steps are the ScheduledTouches that belong to it.

    Re-planning (a new WHEN or HOW pattern, `allocate_leads --replan`) keeps the
    enrollment: the steps already sent stay, and only the steps that have not
    gone out are rescheduled, numbered after them. A step number goes out at
    most once per enrollment (touch_step_once_per_enrollment); a lead has at most
    one open (active or paused) enrollment. A new enrollment is a re-enrolment,
    made on purpose.
    """

    # db_index off: the (lead, state) index and the open-enrollment constraint lead with the lead.
    client = models.ForeignKey("outreach.Client", on_delete=models.CASCADE, related_name="enrollments", db_index=False)
    lead = models.ForeignKey("outreach.Lead", on_delete=models.CASCADE, related_name="enrollments", db_index=False)
    # The id every touch of the enrollment carries (ScheduledTouch.sequence_id, Activity.sequence_id).
    sequence_id = models.UUIDField(unique=True)
    # The strategy the allocator chose when it enrolled the lead ("linkedin>email>sms").
    planned_sequence = models.CharField(max_length=120, blank=True)
    state = models.CharField(max_length=10, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Why it ended: the reason its remaining touches were cancelled with, a StopReason ("lead_replied",
    # "unsubscribed", "sequence_complete", ...); empty while it is open.
    end_reason = models.CharField(max_length=120, blank=True)
    # A paused enrollment resumes by itself at this time when set (a reply that said "later"), else by a person.
    resume_at = models.DateTimeField(null=True, blank=True)
    # The mailbox every email of the enrollment goes from, chosen at its first email (a client without mailboxes:
    # none, its sending_email). RESTRICT (PROTECT, but for the client's own deletion, which takes both): it names
    # the address the lead's thread continues from, so a mailbox is retired, not deleted, while one keeps it.
    mailbox = models.ForeignKey(
        "outreach.Mailbox", on_delete=models.RESTRICT, null=True, blank=True, related_name="enrollments"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=Q(state__in=OPEN_ENROLLMENT_STATES), name="enrollment_one_open_per_lead"
            ),
            models.CheckConstraint(condition=in_choices("state", EnrollmentState), name="enrollment_state_valid"),
            models.CheckConstraint(
                condition=Q(end_reason="") | in_choices("end_reason", StopReason), name="enrollment_end_reason_valid"
            ),
            models.CheckConstraint(
                condition=Q(state__in=OPEN_ENROLLMENT_STATES, ended_at__isnull=True)
                | (~Q(state__in=OPEN_ENROLLMENT_STATES) & Q(ended_at__isnull=False)),
                name="enrollment_ended_when_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "state"], name="enrollment_lead_state"),
            models.Index(fields=["client", "state"], name="enrollment_client_state"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} · {self.planned_sequence or 'sequence'} · {self.state}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_ENROLLMENT_STATES


class JourneyEvent(models.Model):
    """One change to a lead's contact state or enrollment, with who made it and why: the journey's audit trail.

    Written by the journey service for every pause, resume, stop, re-enrolment, opt-out or opt-in and undo of
    do-not-contact; a person's change names the user, an automatic one the event that caused it.
    """

    client = models.ForeignKey(
        "outreach.Client", on_delete=models.CASCADE, related_name="journey_events", db_index=False
    )
    lead = models.ForeignKey("outreach.Lead", on_delete=models.CASCADE, related_name="journey_events", db_index=False)
    enrollment = models.ForeignKey(
        "outreach.Enrollment", on_delete=models.CASCADE, related_name="events", null=True, blank=True
    )
    action = models.CharField(max_length=40)
    reason = models.CharField(max_length=120, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="journey_events"
    )
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["lead", "at"], name="journey_event_lead_time")]

    def __str__(self) -> str:
        return f"{self.lead} · {self.action} · {self.reason}"
