from django.conf import settings
from django.db import models

from .choices import MembershipRole, in_choices


class ClientMembership(models.Model):
    """Which clients a staff user works for: the admin shows staff only their clients' rows."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_memberships")
    client = models.ForeignKey("outreach.Client", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=MembershipRole.choices, default=MembershipRole.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client"], name="membership_once_per_client"),
            models.CheckConstraint(condition=in_choices("role", MembershipRole), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.client} ({self.role})"
