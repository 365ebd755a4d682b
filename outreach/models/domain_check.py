from django.conf import settings
from django.db import models
from django.utils import timezone

from .choices import PASSING_AUTH_STATUSES, AuthStatus, CheckTrigger, in_choices

# The three records a sending domain is checked for, as (label, field prefix).
AUTH_RECORDS = (("SPF", "spf"), ("DKIM", "dkim"), ("DMARC", "dmarc"))


class DomainCheck(models.Model):
    """One check of a client's sending domain: SPF, DKIM and DMARC, each with its verdict, the record judged and
    what to fix (engines.services.deliverability.domains). History is kept; the newest row is the client's state.
    """

    client = models.ForeignKey("outreach.Client", on_delete=models.CASCADE, related_name="domain_checks")
    domain = models.CharField(max_length=253)
    checked_at = models.DateTimeField(default=timezone.now)
    spf_status = models.CharField(max_length=10, choices=AuthStatus.choices)
    spf_record = models.TextField(blank=True)
    spf_message = models.TextField(blank=True)
    dkim_status = models.CharField(max_length=10, choices=AuthStatus.choices)
    dkim_record = models.TextField(blank=True)
    dkim_message = models.TextField(blank=True)
    dmarc_status = models.CharField(max_length=10, choices=AuthStatus.choices)
    dmarc_record = models.TextField(blank=True)
    dmarc_message = models.TextField(blank=True)
    trigger = models.CharField(max_length=10, choices=CheckTrigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-checked_at", "-pk"]
        constraints = [
            *(
                models.CheckConstraint(
                    condition=in_choices(f"{prefix}_status", AuthStatus), name=f"domain_check_{prefix}_status_valid"
                )
                for _, prefix in AUTH_RECORDS
            ),
            models.CheckConstraint(condition=in_choices("trigger", CheckTrigger), name="domain_check_trigger_valid"),
        ]
        indexes = [models.Index(fields=["client", "-checked_at"], name="domain_check_client_newest")]

    def __str__(self) -> str:
        return f"{self.domain} {self.checked_at:%Y-%m-%d %H:%M}: {'pass' if self.passed else 'fail'}"

    def statuses(self) -> dict[str, str]:
        """Each record's verdict, by label (SPF, DKIM, DMARC)."""
        return {label: getattr(self, f"{prefix}_status") for label, prefix in AUTH_RECORDS}

    @property
    def passed(self) -> bool:
        return all(status in PASSING_AUTH_STATUSES for status in self.statuses().values())

    def failed_records(self) -> list[str]:
        """The labels of the records that did not pass (failed, or could not be looked up)."""
        return [label for label, status in self.statuses().items() if status not in PASSING_AUTH_STATUSES]
