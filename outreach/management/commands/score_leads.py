from typing import Any

from django.core.management.base import BaseCommand, CommandError

from engines.services.scorer import score_leads
from outreach.management.progress import progress_bar
from outreach.models import Client, Lead


class Command(BaseCommand):
    help = "Rescore leads (ALS) with each client's current weights: one client's leads, or every lead."

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--client", type=int, metavar="ID", help="score the leads of this client")
        which.add_argument("--all", action="store_true", help="score the leads of every client")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"]:
            leads, whose = Lead.objects.all(), "all clients"
        else:
            client = Client.objects.filter(pk=options["client"]).first()
            if client is None:
                raise CommandError(f"No client with id {options['client']}.")
            leads, whose = client.leads.all(), f"client {client} (id {client.pk})"
        with progress_bar(self, leads.count(), verbosity=options["verbosity"]) as bar:
            scored = score_leads(leads, progress=bar.update)
        self.stdout.write(self.style.SUCCESS(f"Scored {scored} leads of {whose}."))
