import pytest
from django.core.exceptions import ImproperlyConfigured

from engines.services import later
from engines.tasks import TaskQueue


def test_the_engines_app_registers_the_django_q_queue():
    assert isinstance(later.queue(), TaskQueue)


def test_without_a_queue_handing_on_work_is_a_configuration_error(monkeypatch):
    monkeypatch.setattr(later, "_queue", None)
    with pytest.raises(ImproperlyConfigured, match="no work queue registered"):
        later.queue()


def test_hooks_run_in_order_once_each_however_often_connected():
    seen = []
    hooks: later.Hooks[int] = later.Hooks("test")
    first, second = (lambda n: seen.append(("first", n))), (lambda n: seen.append(("second", n)))
    hooks.connect(first)
    hooks.connect(second)
    hooks.connect(first)
    hooks.run(7)
    assert seen == [("first", 7), ("second", 7)]


def test_the_outcomes_stage_is_connected_to_the_send_paths_hooks():
    from engines import signals
    from engines.services.outcomes import early_statuses

    assert early_statuses.apply_parked in later.after_sends_recorded
    assert signals.settle_parked_statuses in later.before_dispatch_run
    assert signals.resume_paused_enrollments in later.before_dispatch_run  # the journey's due pauses, too
    assert len(later.before_dispatch_run) == 2
