"""Signal receivers and the hooks of engines.services.later: one line each.

Model signals hand off to engines.services.journey.triggers, which enqueues a task on commit. The
outcomes stage's share of sending (SMS statuses that arrived before their send was recorded) is
connected to the send path's hooks here, so sending never imports a later stage.

The one synchronous step is stopping contact: a lead saved as do-not-contact, unsubscribed, opted out,
bounced, replied, converted or closed has its unsent touches cancelled in the transaction of that save.
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate, post_save, pre_save
from django.dispatch import receiver

from engines import schedules
from engines.services import later
from engines.services.journey import actions, triggers
from engines.services.outcomes import early_statuses
from outreach.models import Client, ConversionPattern, Lead

logger = logging.getLogger(__name__)


# The engines app has no models, so it gets no post_migrate of its own: django_q's comes once its tables exist.
@receiver(post_migrate, sender=apps.get_app_config("django_q"), dispatch_uid="engines.ensure_schedules")
def ensure_schedules(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    schedules.ensure_schedules(using=using)


@receiver(pre_save, sender=Lead, dispatch_uid="engines.remember_lead")
def remember_lead(
    sender: type[Lead], instance: Lead, raw: bool = False, update_fields: Iterable[str] | None = None, **kwargs: object
) -> None:
    triggers.remember_lead(instance, raw=raw, update_fields=update_fields)


@receiver(post_save, sender=Lead, dispatch_uid="engines.lead_saved")
def lead_saved(sender: type[Lead], instance: Lead, created: bool = False, raw: bool = False, **kwargs: object) -> None:
    triggers.lead_saved(instance, created=created, raw=raw)


@receiver(pre_save, sender=Client, dispatch_uid="engines.remember_client")
def remember_client(
    sender: type[Client],
    instance: Client,
    raw: bool = False,
    update_fields: Iterable[str] | None = None,
    **kwargs: object,
) -> None:
    triggers.remember_client(instance, raw=raw, update_fields=update_fields)


@receiver(post_save, sender=Client, dispatch_uid="engines.client_saved")
def client_saved(sender: type[Client], instance: Client, raw: bool = False, **kwargs: object) -> None:
    triggers.client_saved(instance, raw=raw)


@receiver(post_save, sender=ConversionPattern, dispatch_uid="engines.pattern_saved")
def pattern_saved(
    sender: type[ConversionPattern], instance: ConversionPattern, raw: bool = False, **kwargs: object
) -> None:
    triggers.pattern_saved(instance, raw=raw)


def settle_parked_statuses(now: datetime) -> None:
    early_statuses.settle_parked(now=now)


def resume_paused_enrollments(now: datetime) -> None:
    """Every dispatcher run (each minute) resumes the paused enrollments whose resume time has come, so their
    steps can go out in that same run."""
    try:
        actions.resume_due(now)
    except Exception:  # any error: the run goes on to send, and the next run tries again
        logger.exception("paused enrollments due to resume were not resumed; the next run retries")


later.after_sends_recorded.connect(early_statuses.apply_parked)
later.before_dispatch_run.connect(settle_parked_statuses)
later.before_dispatch_run.connect(resume_paused_enrollments)
