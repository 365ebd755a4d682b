from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from engines.rules.dns_auth import sending_domain

from .choices import MailboxState, MailboxStateReason, in_choices


def validate_account(value: str) -> None:
    if value and value not in settings.OUTREACH_MAILBOX_ACCOUNTS:
        known = ", ".join(sorted(settings.OUTREACH_MAILBOX_ACCOUNTS)) or "none is configured"
        raise ValidationError(
            f"{value!r} is not an ESP account of OUTREACH_MAILBOX_ACCOUNTS ({known}); leave it blank for the "
            "default EMAIL_BACKEND"
        )


class Mailbox(models.Model):
    """One address a client sends email from, through one ESP account, with a daily cap reached by a warm-up ramp.

    A client with mailboxes sends every email from one of them: an enrollment keeps the one its first email went
    from (Enrollment.mailbox); a client without any sends from its `sending_email`. Health checks pause a
    mailbox whose bounce or complaint rate crosses its limits (engines.services.deliverability.mailboxes).
    """

    # db_index off: the unique (client, address) constraint leads with the client.
    client = models.ForeignKey("outreach.Client", on_delete=models.CASCADE, related_name="mailboxes", db_index=False)
    # Stored lower case (an address is compared whole, mailbox_address_lower_case); one per client.
    address = models.EmailField()
    display_name = models.CharField(
        max_length=100, blank=True, help_text="The name recipients see; blank: the client's name"
    )
    # The address's domain, derived when the mailbox is saved (health is also judged per domain).
    sending_domain = models.CharField(max_length=253, editable=False)
    # A name in settings.OUTREACH_MAILBOX_ACCOUNTS, whose secrets live in the environment, never here.
    account = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_account],
        help_text="The ESP account it sends through (a name in OUTREACH_MAILBOX_ACCOUNTS); blank: the default one",
    )
    daily_cap = models.PositiveIntegerField(default=50, help_text="The most emails a day once warmed up")
    warmup_start = models.PositiveIntegerField(default=10, help_text="Emails on the first day of the warm-up")
    warmup_increase = models.PositiveIntegerField(default=5, help_text="Emails added each day of the warm-up")
    warmup_started_on = models.DateField(
        default=timezone.localdate, help_text="The warm-up's first day (the client's calendar)"
    )
    state = models.CharField(max_length=10, choices=MailboxState.choices, default=MailboxState.WARMING)
    state_reason = models.CharField(
        max_length=30, choices=MailboxStateReason.choices, default=MailboxStateReason.NEW, editable=False
    )
    state_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client", "address"]
        verbose_name_plural = "mailboxes"
        constraints = [
            models.UniqueConstraint(
                "client", Lower("address"), name="mailbox_address_unique_per_client",
                violation_error_message="This client already has a mailbox with this address.",
            ),
            models.CheckConstraint(condition=Q(address=Lower(F("address"))), name="mailbox_address_lower_case"),
            models.CheckConstraint(
                condition=Q(daily_cap__gte=1), name="mailbox_daily_cap_positive",
                violation_error_message="The daily cap must be at least 1 (pause or retire a mailbox instead).",
            ),
            models.CheckConstraint(
                condition=Q(warmup_start__gte=1, warmup_start__lte=F("daily_cap")), name="mailbox_warmup_within_cap",
                violation_error_message="The warm-up starts with at least 1 email a day, and at most the daily cap.",
            ),
            models.CheckConstraint(condition=in_choices("state", MailboxState), name="mailbox_state_valid"),
            models.CheckConstraint(
                condition=in_choices("state_reason", MailboxStateReason), name="mailbox_state_reason_valid"
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.address

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Whoever saves (admin, import, shell), so the address and its domain never disagree.
        self._normalize()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "address" in update_fields:
            kwargs["update_fields"] = {*update_fields, "sending_domain"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self._normalize()  # before the constraints are validated (full_clean), as they read the stored form

    def _normalize(self) -> None:
        self.address = self.address.strip().lower()
        self.sending_domain = sending_domain(self.address)


class MailboxStateChange(models.Model):
    """One change of a mailbox's state, with why and who (a person, or None for a health check): its history."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="state_changes", db_index=False)
    from_state = models.CharField(max_length=10, choices=MailboxState.choices)
    to_state = models.CharField(max_length=10, choices=MailboxState.choices)
    reason = models.CharField(max_length=30, choices=MailboxStateReason.choices)
    note = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=in_choices("from_state", MailboxState), name="mailbox_change_from_valid"),
            models.CheckConstraint(condition=in_choices("to_state", MailboxState), name="mailbox_change_to_valid"),
            models.CheckConstraint(
                condition=in_choices("reason", MailboxStateReason), name="mailbox_change_reason_valid"
            ),
        ]
        indexes = [models.Index(fields=["mailbox", "-at"], name="mailbox_change_newest")]

    def __str__(self) -> str:
        return f"{self.mailbox}: {self.from_state} -> {self.to_state} ({self.reason})"
