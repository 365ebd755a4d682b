from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import TaskKind, TaskStatus, in_choices


class ManualTask(models.Model):
    """A person's share of a sequence: a LinkedIn message to send or a call to make (or a follow-up, no touch).

    The touch it belongs to is recorded as sent only when the task is marked
    done, with the text actually sent or the call's outcome.
    """

    client = models.ForeignKey("outreach.Client", on_delete=models.CASCADE, related_name="manual_tasks", db_index=False)
    lead = models.ForeignKey("outreach.Lead", on_delete=models.CASCADE, related_name="manual_tasks")
    scheduled_touch = models.OneToOneField(
        "outreach.ScheduledTouch", on_delete=models.CASCADE, null=True, blank=True, related_name="manual_task"
    )
    kind = models.CharField(max_length=10, choices=TaskKind.choices)
    subject = models.CharField(max_length=300, blank=True, help_text="LinkedIn connection note, if any")
    message = models.TextField(help_text="The message to send or the call script")
    due_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=30, blank=True, help_text="The call's outcome, or why it was skipped")
    sent_text = models.TextField(blank=True, help_text="What was actually sent or said")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.CheckConstraint(condition=in_choices("kind", TaskKind), name="task_kind_valid"),
            models.CheckConstraint(condition=in_choices("status", TaskStatus), name="task_status_valid"),
            models.CheckConstraint(
                condition=Q(status=TaskStatus.OPEN) | Q(closed_at__isnull=False), name="task_closed_has_time"
            ),
        ]
        indexes = [models.Index(fields=["client", "status", "due_at"], name="task_client_status_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.lead} · {self.get_status_display()}"
