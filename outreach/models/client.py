from django.core.exceptions import ValidationError
from django.db import models

from engines.rules.dns_auth import is_dkim_selector
from engines.rules.normalization import is_timezone, normalize_client

# The highest per-company daily cap: beyond it the cap means nothing next to the client's daily email limit.
MAX_DAILY_EMAILS_PER_COMPANY = 1000


def validate_timezone(value: str) -> None:
    if value and not is_timezone(value):
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Australia/Sydney)")


def validate_dkim_selector(value: str) -> None:
    if value and not is_dkim_selector(value):
        raise ValidationError(
            f"{value!r} is not a DKIM selector: give only the part before ._domainkey (e.g. google, s1, pm)"
        )


class Client(models.Model):
    """One of the agency's clients: the business the outreach is sent for."""

    name = models.CharField(max_length=200)
    sending_email = models.EmailField(blank=True)
    sending_phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +61291234567")
    # Where the sending domain's DKIM key is published (<selector>._domainkey.<domain>); blank: the usual
    # selectors of the big ESPs are tried (settings.DEFAULT_DKIM_SELECTORS).
    dkim_selector = models.CharField(
        max_length=63,
        blank=True,
        validators=[validate_dkim_selector],
        help_text="The DKIM selector your ESP gave you (the part before ._domainkey); blank: try the usual ones",
    )
    timezone = models.CharField(max_length=64, default="Australia/Sydney", validators=[validate_timezone])
    country = models.CharField(max_length=2, default="AU", help_text="ISO 3166 code of the client's home market")
    icp = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            'Ideal customer profile: {"industries": [...], "employee_min": 5, "employee_max": 50, "countries": [...]}'
        ),
    )
    als_learned_weights = models.JSONField(null=True, blank=True)
    sender_name = models.CharField(max_length=100, blank=True, help_text="The person who signs the messages")
    # Share of new plans that explore (Thompson sampling) instead of following the learned pattern.
    exploration_rate = models.FloatField(default=0.10, help_text="0 to 1; 0 turns exploration off")
    physical_address = models.TextField(blank=True, help_text="Postal address required in commercial email")
    daily_email_limit = models.PositiveIntegerField(default=200)
    daily_sms_limit = models.PositiveIntegerField(default=100)
    daily_linkedin_limit = models.PositiveIntegerField(default=40)
    daily_voice_limit = models.PositiveIntegerField(default=60)
    # Mailbox providers and the companies' own filters see many emails into one domain in a day as a campaign.
    daily_emails_per_company = models.PositiveSmallIntegerField(
        default=3,
        db_default=3,
        help_text=(
            "At most this many emails a day into one company (one recipient email domain; each address at a "
            "public provider such as gmail.com counts alone); the rest wait for the next day. 0: no cap"
        ),
    )
    # Lead-local hours email and LinkedIn touches may go out, on working days (engines.rules.sending_window);
    # no learned pattern moves a touch outside them.
    sending_window_start = models.PositiveSmallIntegerField(
        default=7, help_text="Email and LinkedIn go out from this hour of the lead's local day (0-23)"
    )
    sending_window_end = models.PositiveSmallIntegerField(
        default=19, help_text="... until this hour (1-24, exclusive); SMS and calls keep the legal contact hours"
    )
    sends_on_weekends = models.BooleanField(
        default=False, help_text="Let email and LinkedIn go out on Saturday and Sunday too (lead's local days)"
    )
    # A booking or an interested reply from one person pauses the active enrollments of their colleagues.
    pause_colleagues_on_answer = models.BooleanField(
        default=True, help_text="When one person at a company books or replies, pause their colleagues' sequences"
    )
    # Scheduled work never re-enrols a lead whose enrollment finished unless this is on.
    reenroll_automatically = models.BooleanField(
        default=False, help_text="Let scheduled work start a new enrollment for leads whose sequence finished"
    )
    # Made by `manage.py demo`, which deletes and rebuilds only clients marked so.
    is_demo = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(exploration_rate__gte=0, exploration_rate__lte=1), name="client_exploration_rate_0_1"
            ),
            models.CheckConstraint(
                condition=models.Q(sending_window_start__lt=models.F("sending_window_end"), sending_window_end__lte=24),
                name="client_sending_window_in_day",
                violation_error_message="The sending window must end after it starts, at 24:00 at the latest.",
            ),
            models.CheckConstraint(
                condition=models.Q(daily_emails_per_company__lte=MAX_DAILY_EMAILS_PER_COMPANY),
                name="client_daily_emails_per_company_bounded",
                violation_error_message=(
                    f"At most {MAX_DAILY_EMAILS_PER_COMPANY} emails a day into one company (0 turns the cap off)."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = normalize_client(self)
        if errors:
            raise ValidationError(errors)
