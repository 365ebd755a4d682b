from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from engines.exceptions import EngineError
from engines.services.sending.manual_tasks import close_follow_up, complete_task, instructions, open_tasks, skip_task
from engines.services.sending.voice import CALL_OUTCOMES
from outreach.management.base import OutreachCommand
from outreach.models import Client, ManualTask, TaskKind

# The longest call --duration takes: a day. Options of `done` that only one kind of task takes.
MAX_CALL_SECONDS = 86_400
OPTIONS_OF_KIND = {"text": TaskKind.LINKEDIN, "outcome": TaskKind.CALL, "duration": TaskKind.CALL}


class Command(OutreachCommand):
    help = (
        "People's share of the sequences: list the open LinkedIn and call tasks, mark one done (which records "
        "the touch as sent, with the text sent or the call's outcome), or skip one (which cancels its touch)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{list,done,skip}")
        listing = actions.add_parser("list", help="list the open tasks, soonest due first")
        listing.add_argument("--client", type=int, metavar="ID", help="only this client's tasks")
        listing.add_argument("--kind", choices=TaskKind.values, help="only LinkedIn messages, calls or follow-ups")

        done = actions.add_parser("done", help="the task was done: record its touch as sent (a follow-up: close it)")
        done.add_argument("task", type=int, metavar="TASK_ID")
        done.add_argument("--text", help="LinkedIn: the text actually sent, when it differs from the task's")
        done.add_argument("--outcome", choices=CALL_OUTCOMES, help="call: how the call went (required for calls)")
        done.add_argument("--duration", type=int, metavar="SECONDS", help="call: how long it lasted (default 0)")
        done.add_argument("--notes", default="", help="anything worth keeping")
        done.add_argument("--user", metavar="USERNAME", help="who did it (recorded on the task)")

        skip = actions.add_parser("skip", help="the task will not be done: cancel its touch")
        skip.add_argument("task", type=int, metavar="TASK_ID")
        skip.add_argument("--reason", required=True, help="why (kept on the task and the cancelled touch)")
        skip.add_argument("--user", metavar="USERNAME", help="who decided (recorded on the task)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"handle_{options['action']}")(options)
        except EngineError as exc:
            raise CommandError(str(exc)) from exc

    def handle_list(self, options: dict[str, Any]) -> None:
        client = None
        if options["client"] is not None:
            client = Client.objects.filter(pk=options["client"]).first()
            if client is None:
                raise CommandError(f"No client with id {options['client']}.")
        tasks = list(open_tasks(client=client, kind=options["kind"]))
        for task in tasks:
            self.stdout.write(
                f"#{task.pk} {task.get_kind_display()} · {task.client} · due {task.due_at:%Y-%m-%d %H:%M %Z}"
            )
            self.stdout.write("    " + instructions(task).replace("\n", "\n    "))
        self.stdout.write(f"{len(tasks)} open task{'s' if len(tasks) != 1 else ''}.")

    def handle_done(self, options: dict[str, Any]) -> None:
        task = self.task(options["task"])
        check_done_options(task, options)
        if task.kind == TaskKind.FOLLOW_UP:
            close_follow_up(task, user=self.user(options["user"]), notes=options["notes"])
            self.stdout.write(self.style.SUCCESS(f"Task #{task.pk} done: followed up {task.lead}."))
            return
        activity = complete_task(
            task,
            user=self.user(options["user"]),
            sent_text=options["text"],
            outcome=options["outcome"],
            notes=options["notes"],
            duration_seconds=options["duration"] or 0,
        )
        self.stdout.write(self.style.SUCCESS(f"Task #{task.pk} done: recorded {activity.action} for {task.lead}."))

    def handle_skip(self, options: dict[str, Any]) -> None:
        task = self.task(options["task"])
        skip_task(task, user=self.user(options["user"]), reason=options["reason"])
        self.stdout.write(self.style.SUCCESS(f"Task #{task.pk} skipped; its touch is cancelled."))

    def task(self, task_id: int) -> ManualTask:
        task = ManualTask.objects.select_related("lead", "client").filter(pk=task_id).first()
        if task is None:
            raise CommandError(f"No task with id {task_id}.")
        return task

    def user(self, username: str | None) -> Any:
        if username is None:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        return user


def check_done_options(task: ManualTask, options: dict[str, Any]) -> None:
    """Refuse what `done` would otherwise ignore: --text for a call, --outcome for a LinkedIn message, ..."""
    misplaced = [
        f"--{name}" for name, kind in OPTIONS_OF_KIND.items() if options[name] is not None and task.kind != kind
    ]
    if misplaced:
        raise CommandError(
            f"{' and '.join(misplaced)} cannot be given for task #{task.pk}, a {task.get_kind_display()} task "
            "(--text is for LinkedIn tasks, --outcome and --duration for calls)."
        )
    duration = options["duration"]
    if duration is not None and not 0 <= duration <= MAX_CALL_SECONDS:
        raise CommandError(f"--duration must be 0 to {MAX_CALL_SECONDS} seconds, got {duration}.")
