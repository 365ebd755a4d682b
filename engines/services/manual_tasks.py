"""Public API: Manual tasks: the LinkedIn messages and calls a person does, closed as done or skipped.

The code lives in `engines.services.sending.manual_tasks`; this module keeps the documented import path
(docs/architecture.md, "Public API"). Product code imports the stage module.
"""

from engines.services.sending.manual_tasks import complete_task, skip_task

__all__ = ["complete_task", "skip_task"]
