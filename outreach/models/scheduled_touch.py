from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .activity import lead_of_its_client
from .choices import Channel, Tier, TouchStatus, in_choices


class ScheduledTouch(models.Model):
    """One planned step of a lead's sequence: the outbox row a send claims exactly once."""

    # db_index off on both: the composite indexes below lead with these columns, and every
    # extra index slows the bulk inserts and cancellations of the allocator.
    client = models.ForeignKey(
        "outreach.Client", on_delete=models.CASCADE, related_name="scheduled_touches", db_index=False
    )
    lead = models.ForeignKey(
        "outreach.Lead", on_delete=models.CASCADE, related_name="scheduled_touches", db_index=False
    )
    # The enrollment this touch is a step of; sequence_id is the enrollment's.
    enrollment = models.ForeignKey(
        "outreach.Enrollment", on_delete=models.CASCADE, related_name="touches", db_index=False
    )
    sequence_id = models.UUIDField()
    touch_number = models.PositiveSmallIntegerField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    scheduled_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=TouchStatus.choices, default=TouchStatus.PLANNED)
    # The lead's tier when the sequence was planned: the HOW detector compares channels per tier.
    lead_tier = models.CharField(max_length=4, choices=Tier.choices, blank=True)
    # The whole sequence as the allocator planned it ("linkedin>email>sms"), before any touch was sent or
    # cancelled: the HOW detector compares strategies as planned, not what was left of them.
    planned_sequence = models.CharField(max_length=120, blank=True)
    # Exploration: this plan was drawn (Thompson sampling) rather than taken from the learned pattern.
    is_exploration = models.BooleanField(default=False)
    exploration = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Why a touch was blocked, deferred or cancelled: a StopReason when contact stopped ("unsubscribed",
    # "lead_replied", ...), else what kept one send back ("missing_field:first_name", "quiet_hours", ...).
    reason = models.CharField(max_length=120, blank=True)
    # When a dispatcher claimed it (status `sending`): a claim older than the timeout is reconciled.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # CASCADE, not SET_NULL: a sent touch without its Activity is refused (touch_sent_has_activity), and
    # history goes only with its lead or client.
    activity = models.OneToOneField(
        "outreach.Activity", on_delete=models.CASCADE, null=True, blank=True, related_name="scheduled_touch"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "scheduled touches"
        ordering = ["scheduled_at"]
        constraints = [
            # A step goes out at most once per enrollment; a re-plan cancels a step before planning it again.
            models.UniqueConstraint(
                fields=["enrollment", "touch_number"],
                condition=~Q(status=TouchStatus.CANCELLED),
                name="touch_step_once_per_enrollment",
            ),
            models.CheckConstraint(condition=Q(touch_number__gte=1), name="touch_number_positive"),
            models.CheckConstraint(condition=in_choices("channel", Channel), name="touch_channel_valid"),
            models.CheckConstraint(condition=in_choices("status", TouchStatus), name="touch_status_valid"),
            models.CheckConstraint(condition=Q(lead_tier="") | in_choices("lead_tier", Tier), name="touch_tier_valid"),
            models.CheckConstraint(
                condition=~Q(status=TouchStatus.SENT) | Q(activity__isnull=False),
                name="touch_sent_has_activity",
            ),
        ]
        indexes = [
            # The dispatcher claims the due touches in this order (status, then scheduled_at, id): the index walk
            # stops at a batch rather than sorting every due touch.
            models.Index(fields=["status", "scheduled_at", "id"], name="touch_status_time_order"),
            models.Index(fields=["lead", "status"], name="touch_lead_status"),
            models.Index(fields=["client", "sequence_id"], name="touch_client_sequence"),
            models.Index(fields=["enrollment", "status"], name="touch_enrollment_status"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} · touch {self.touch_number} ({self.channel}) · {self.status}"

    def clean(self) -> None:
        errors = lead_of_its_client(self)
        activity = self.activity if self.activity_id is not None else None
        if activity is not None and self.lead_id is not None and activity.lead_id != self.lead_id:
            errors["activity"] = f"activity {activity.pk} is about lead {activity.lead_id}, not {self.lead_id}"
        if errors:
            raise ValidationError(errors)
