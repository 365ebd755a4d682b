from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Lower, StrIndex, Substr, Trim
from django.db.models.lookups import In, LessThanOrEqual

from engines.rules.email_domains import PUBLIC_MAIL_DOMAINS
from engines.rules.normalization import normalize_lead

from .choices import LeadStatus, in_choices
from .client import validate_timezone

_RECIPIENT = Lower(Trim("email"))
_AT = StrIndex(_RECIPIENT, Value("@"))
_DOMAIN = Substr(_RECIPIENT, _AT + 1)
# The SQL twin of engines.rules.email_domains.email_company: "" without a local part and a domain, the whole
# address at a public mail provider, else the domain.
EMAIL_COMPANY = Case(
    When(LessThanOrEqual(_AT, 1), then=Value("")),
    When(In(_DOMAIN, sorted(PUBLIC_MAIL_DOMAINS)), then=_RECIPIENT),
    default=_DOMAIN,
    output_field=models.CharField(),
)


class Lead(models.Model):
    """A person a client wants to reach, with what we know and how we scored them."""

    # db_index off: the (client, status) index serves lookups by client.
    client = models.ForeignKey("outreach.Client", on_delete=models.CASCADE, related_name="leads", db_index=False)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    # The company the address counts towards (engines.rules.email_domains.email_company), written by the database
    # whenever the email is, however the lead is saved (bulk imports too): the per-company daily cap counts a
    # day's emails into a batch's companies through its index instead of parsing every address sent to that day.
    email_company = models.GeneratedField(
        expression=EMAIL_COMPANY, output_field=models.CharField(max_length=254), db_persist=True
    )
    email_verified = models.BooleanField(default=False)
    is_personal_email = models.BooleanField(default=False)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +61412345678")
    phone_verified = models.BooleanField(default=False)
    linkedin_url = models.URLField(blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    country = models.CharField(max_length=100, blank=True, help_text="English name or ISO code")
    region = models.CharField(max_length=10, blank=True, help_text="State or province code, e.g. NSW")
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone])

    is_new_role = models.BooleanField(default=False)
    is_hiring = models.BooleanField(default=False)
    recently_funded = models.BooleanField(default=False)

    has_bounced = models.BooleanField(default=False)
    is_unsubscribed = models.BooleanField(default=False)
    is_competitor = models.BooleanField(default=False)
    do_not_contact = models.BooleanField(default=False)
    # Opt-outs of a single channel (an SMS "STOP" is not an email unsubscribe).
    email_opted_out = models.BooleanField(default=False)
    sms_opted_out = models.BooleanField(default=False)
    linkedin_opted_out = models.BooleanField(default=False)
    voice_opted_out = models.BooleanField(default=False)
    # A wrong number: the phone reaches somebody else, so neither SMS nor calls may use it.
    phone_unusable = models.BooleanField(default=False)
    # A number that cannot take texts (the provider says landline, or not a mobile): calls may still use it.
    sms_unsupported = models.BooleanField(default=False)

    status = models.CharField(max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    als_score = models.PositiveSmallIntegerField(null=True, blank=True)
    als_components = models.JSONField(null=True, blank=True)
    als_weights_used = models.JSONField(null=True, blank=True)
    als_weights_source = models.CharField(max_length=10, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    touch_count = models.PositiveIntegerField(default=0)
    converted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(als_score__isnull=True) | Q(als_score__gte=0, als_score__lte=100),
                name="lead_als_score_0_100",
            ),
            models.CheckConstraint(condition=in_choices("status", LeadStatus), name="lead_status_valid"),
            models.CheckConstraint(
                condition=Q(als_weights_source__in=["", "pattern", "client", "default"]),
                name="lead_weights_source_valid",
            ),
            models.UniqueConstraint(
                "client", Lower("email"), condition=~Q(email=""), name="lead_email_unique_per_client"
            ),
        ]
        indexes = [
            models.Index(fields=["client", "status"], name="lead_client_status"),
            models.Index(fields=["client", "als_score"], name="lead_client_score"),
            models.Index(fields=["client", "email_company"], name="lead_client_company"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip() or self.email or f"Lead {self.pk}"
        return f"{name} ({self.company_name})" if self.company_name else name

    def clean(self) -> None:
        """Store the phone as E.164, the country as its ISO code, the email's domain in lower case.

        A second lead of the client with the same email in any case is refused
        here with a message naming the field (the database refuses it too).
        """
        errors = normalize_lead(self)
        if "email" not in errors and self.email and self.client_id and self._email_taken():
            errors["email"] = [f"{self.client} already has a lead with the email {self.email} (in any case)"]
        if errors:
            raise ValidationError(errors)

    def _email_taken(self) -> bool:
        return Lead.objects.filter(client_id=self.client_id, email__iexact=self.email).exclude(pk=self.pk).exists()

    def is_opted_out_of(self, channel: str) -> bool:
        return bool(getattr(self, f"{channel}_opted_out", False))
