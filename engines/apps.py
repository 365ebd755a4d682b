from django.apps import AppConfig


class EnginesConfig(AppConfig):
    name = "engines"
    label = "engines"
    verbose_name = "Engines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from engines import (
            signals,  # noqa: F401  (connects the receivers and the hooks of engines.services.later)
            webhooks,  # noqa: F401  (connects the anymail tracking and inbound receivers)
        )
        from engines.services import later
        from engines.tasks import TaskQueue

        later.set_queue(TaskQueue())
