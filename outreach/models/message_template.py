from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from engines.rules.placeholders import subject_error, text_errors

from .choices import Channel, EmailThread, in_choices


class MessageTemplate(models.Model):
    """What a touch says; placeholders such as {first_name} and {company_name} are filled per lead."""

    client = models.ForeignKey("outreach.Client", on_delete=models.CASCADE, related_name="message_templates")
    name = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    touch_number = models.PositiveSmallIntegerField()
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    # Email only: whether a follow-up (a touch after the enrollment's first email) replies in that email's thread.
    email_thread = models.CharField(
        max_length=10,
        choices=EmailThread.choices,
        default=EmailThread.REPLY,
        db_default=EmailThread.REPLY,
        # Django's admin writes help text as HTML: no angle brackets in it.
        help_text="Email only. Reply (the default): a follow-up goes out as a reply in the thread of the enrollment's "
        'first email, with In-Reply-To and References headers and that email\'s subject after "Re:" (this '
        "template's subject is then not used). New thread: it goes out with this template's own subject, as a new "
        "conversation. The first email of an enrollment always starts a thread.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client", "touch_number", "channel"]
        constraints = [
            models.CheckConstraint(condition=in_choices("channel", Channel), name="template_channel_valid"),
            models.CheckConstraint(condition=Q(touch_number__gte=1), name="template_touch_number_positive"),
            models.CheckConstraint(
                condition=in_choices("email_thread", EmailThread), name="template_email_thread_valid"
            ),
            models.UniqueConstraint(
                fields=["client", "channel", "touch_number"],
                condition=Q(active=True),
                name="template_one_active_per_slot",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.client} · {self.channel} touch {self.touch_number}"

    def clean(self) -> None:
        """Refuse an unknown or malformed placeholder on save, naming it (see engines.rules.placeholders),
        an email template without a subject, and a subject with a control character (it would fail the send)."""
        errors = {name: text_errors(getattr(self, name)) for name in ("subject", "body")}
        if self.channel == Channel.EMAIL and not (self.subject or "").strip():
            errors["subject"].append("an email template needs a subject")
        if (error := subject_error(self.subject)) is not None:
            errors["subject"].append(error)
        errors = {name: messages for name, messages in errors.items() if messages}
        if errors:
            raise ValidationError(errors)
