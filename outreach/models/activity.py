from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from engines.rules.provider_input import clean_text

from .choices import ACTION_CHANNEL, REPLY_ACTIONS, ActivityAction, Channel, in_choices

if TYPE_CHECKING:
    from .scheduled_touch import ScheduledTouch


def action_matches_channel() -> Q:
    """A Q that holds when every channel-specific action (email_*, sms_*, ...) is on its own channel."""
    condition = Q()
    for channel in sorted(set(ACTION_CHANNEL.values())):
        actions = sorted(action for action, on in ACTION_CHANNEL.items() if on == channel)
        condition &= ~Q(action__in=actions) | Q(channel=channel)
    return condition


def lead_of_its_client(row: Activity | ScheduledTouch) -> dict[str, str]:
    """The error, by field, when a row's lead belongs to another client than the row (the database cannot tell)."""
    if row.lead_id is None or row.client_id is None or row.lead.client_id == row.client_id:
        return {}
    return {"lead": f"lead {row.lead_id} belongs to client {row.lead.client_id}, not to client {row.client_id}"}


class StorableTextField(models.TextField):
    """Text as both databases can store it: NUL dropped and each lone surrogate replaced by U+FFFD when it is
    saved (engines.rules.provider_input.clean_text, as the webhooks clean what providers send)."""

    def get_prep_value(self, value: object) -> object:
        value = super().get_prep_value(value)
        return clean_text(value) if isinstance(value, str) else value


class Activity(models.Model):
    """Something that happened to a lead: a touch we sent, or an outcome we heard back."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # db_index off on both: the composite indexes below lead with these columns.
    client = models.ForeignKey("outreach.Client", on_delete=models.CASCADE, related_name="activities", db_index=False)
    lead = models.ForeignKey("outreach.Lead", on_delete=models.CASCADE, related_name="activities", db_index=False)
    action = models.CharField(max_length=30, choices=ActivityAction.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    content_snapshot = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Copied out of metadata into columns because the detectors group and join on them.
    sequence_id = models.UUIDField(null=True, blank=True)
    touch_number = models.PositiveSmallIntegerField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    # Our own RFC 5322 Message-ID of an email we sent, bare: "id@domain", without the angle brackets (a reply's
    # In-Reply-To and References are looked up by it; engines.rules.email_threads.bare_message_id). The database
    # default serves the tracking fast path's own INSERT (engines.db.once), which names its columns.
    message_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    # An outcome heard from a provider: which provider, and its id for the event, so a replay is stored once.
    provider = models.CharField(max_length=20, blank=True)
    provider_event_id = models.CharField(max_length=255, blank=True)
    # The touch an outcome answers (a reply to an email, a delivery of an SMS).
    # The mailbox an email we sent went from (none: the client's sending_email); sends per mailbox and its
    # health are counted from here. RESTRICT: a mailbox that sent is retired, never deleted with its history (the
    # client's deletion takes both).
    mailbox = models.ForeignKey(
        "outreach.Mailbox", on_delete=models.RESTRICT, null=True, blank=True, related_name="activities", db_index=False
    )
    in_reply_to = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="responses")
    led_to_booking = models.BooleanField(default=False)
    # What a lead wrote, for a reply (email, SMS, LinkedIn): shown in the reply inbox and searched there. The
    # database default serves the tracking fast path's own INSERT (engines.db.once), which names its columns.
    reply_text = StorableTextField(blank=True, default="", db_default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "activities"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=in_choices("action", ActivityAction), name="activity_action_valid"),
            models.CheckConstraint(
                condition=Q(channel="") | in_choices("channel", Channel), name="activity_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(touch_number__isnull=True) | Q(touch_number__gte=1),
                name="activity_touch_number_positive",
            ),
            models.CheckConstraint(condition=action_matches_channel(), name="activity_action_on_its_channel"),
            models.UniqueConstraint(
                fields=["provider", "provider_event_id"],
                condition=~Q(provider_event_id=""),
                name="activity_provider_event_once",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "channel", "created_at"], name="activity_client_chan_time"),
            models.Index(fields=["client", "action", "created_at"], name="activity_client_action_time"),
            models.Index(fields=["lead", "created_at"], name="activity_lead_time"),
            # The admin's history, newest first (created_at, then id: the changelist's full ordering).
            models.Index(fields=["created_at", "id"], name="activity_time"),
            models.Index(fields=["provider_message_id"], name="activity_provider_msg"),
            models.Index(fields=["message_id"], name="activity_message_id"),
            # A mailbox's sends of a day (its capacity) and of its health window.
            models.Index(
                fields=["mailbox", "created_at"], name="activity_mailbox_sent", condition=Q(mailbox__isnull=False)
            ),
            # The reply inbox and the agency home's "replies waiting", for every client at once: without it they
            # read the whole table, and their cost grew with all activities rather than with the replies.
            models.Index(
                fields=["created_at", "id"], name="activity_reply_time", condition=Q(action__in=REPLY_ACTIONS)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.lead_id} · {self.created_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        errors = lead_of_its_client(self)
        expected = ACTION_CHANNEL.get(self.action)
        if expected and self.channel != expected:
            errors["channel"] = f"{self.action} happens on the {expected} channel, not {self.channel or 'none'}"
        if errors:
            raise ValidationError(errors)
