from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from engines.rules.pattern_checks import pattern_errors

from .choices import PatternType, in_choices


class ConversionPattern(models.Model):
    """What the detectors learned for one client, of one type, at one time.

    History is kept: the active pattern is the newest one still valid
    (engines.services.patterns.get_active_pattern).
    """

    # db_index off: the (client, pattern_type, valid_until) index serves lookups by client.
    client = models.ForeignKey(
        "outreach.Client", on_delete=models.CASCADE, related_name="conversion_patterns", db_index=False
    )
    pattern_type = models.CharField(max_length=4, choices=PatternType.choices)
    patterns = models.JSONField()
    sample_size = models.PositiveIntegerField(default=0)
    confidence = models.FloatField(default=0.0)
    computed_at = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField()
    # False when the pattern did not beat what is in use on held-out leads: kept for history, never used.
    activated = models.BooleanField(default=True)

    class Meta:
        ordering = ["-computed_at"]
        constraints = [
            models.CheckConstraint(condition=in_choices("pattern_type", PatternType), name="pattern_type_valid"),
            models.CheckConstraint(condition=Q(confidence__gte=0, confidence__lte=1), name="pattern_confidence_0_1"),
            models.CheckConstraint(condition=Q(valid_until__gt=F("computed_at")), name="pattern_valid_after_computed"),
        ]
        indexes = [
            models.Index(fields=["client", "pattern_type", "valid_until"], name="pattern_client_type_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.client} · {self.pattern_type} · {self.computed_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        errors = pattern_errors(self.pattern_type, self.patterns)
        if errors:
            raise ValidationError({"patterns": errors})
        if self.computed_at and self.valid_until and self.valid_until <= self.computed_at:
            raise ValidationError({"valid_until": "must be later than computed_at"})
