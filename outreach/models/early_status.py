from django.db import models
from django.utils import timezone


class EarlyStatus(models.Model):
    """A provider's status callback for a message whose send is not recorded yet.

    The dispatcher records a batch of sends after their provider calls
    return, so Twilio can report "sent" or "delivered" for a message SID we
    do not know yet, and Twilio does not retry a status callback. The status
    waits here and is applied when the send is recorded
    (engines.services.outcomes.early_statuses).
    """

    provider = models.CharField(max_length=20)
    message_id = models.CharField(max_length=255)
    status = models.CharField(max_length=30)
    error_code = models.CharField(max_length=10, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name_plural = "early statuses"
        constraints = [
            # Twilio gives a status no id: each status happens once per message, so a replay is the same row.
            models.UniqueConstraint(fields=["provider", "message_id", "status"], name="early_status_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.message_id} {self.status}"
