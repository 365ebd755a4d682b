import traceback
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db.models import QuerySet

from engines.services.scoring.lead_score import score_leads
from outreach.management.base import OutreachCommand
from outreach.management.progress import progress_bar
from outreach.models import Client, Lead


class Command(OutreachCommand):
    help = (
        "Rescore leads (ALS) with each client's current weights: one client's leads, or every lead. "
        "Clients are scored one at a time: a client whose data cannot be scored is reported and skipped, "
        "the others are scored, and the command then exits with status 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--client", type=int, metavar="ID", help="score the leads of this client")
        which.add_argument("--all", action="store_true", help="score the leads of every client")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"]:
            clients, whose = Client.objects.order_by("pk"), "all clients"
        else:
            clients = Client.objects.filter(pk=options["client"])
            client = clients.first()
            if client is None:
                raise CommandError(f"No client with id {options['client']}.")
            whose = f"client {client} (id {client.pk})"
        leads = Lead.objects.filter(client__in=clients)
        with progress_bar(self, leads.count(), verbosity=options["verbosity"]) as bar:
            scored, skipped = self._score_each(clients, progress=bar.update, verbosity=options["verbosity"])
        self.stdout.write(self.style.SUCCESS(f"Scored {scored} leads of {whose}."))
        if skipped:
            raise CommandError(f"{len(skipped)} client(s) skipped: " + ", ".join(skipped))

    def _score_each(self, clients: QuerySet[Client], *, progress: Any, verbosity: int) -> tuple[int, list[str]]:
        """Score client by client, so one client's bad data stops only that client; -v 2 shows tracebacks."""
        scored, skipped = 0, []
        for client in clients:
            try:
                scored += score_leads(client.leads.all(), progress=progress)
            except Exception as exc:  # the isolation boundary: report this client, go on with the others
                self.stderr.write(f"Skipped client {client} (id {client.pk}): {type(exc).__name__}: {exc}")
                if verbosity >= 2:
                    self.stderr.write(traceback.format_exc())
                skipped.append(f"{client} (id {client.pk})")
        return scored, skipped
