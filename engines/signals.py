"""Signal receivers: one line each, enqueueing a task on commit, or (post_migrate) making sure schedules exist."""

from django.apps import apps
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from engines.services import schedules


# The engines app has no models, so it gets no post_migrate of its own: django_q's comes once its tables exist.
@receiver(post_migrate, sender=apps.get_app_config("django_q"), dispatch_uid="engines.ensure_detection_schedule")
def ensure_detection_schedule(sender, using: str = "default", **kwargs) -> None:
    schedules.ensure_detection_schedule(using=using)
