from typing import Any

from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from tqdm import tqdm

from engines.services.scorer import score_leads
from outreach.models import Client, Lead


class _ProgressStream:
    """Lets tqdm redraw its line in place: Django's OutputWrapper would end every write with a newline."""

    def __init__(self, out: OutputWrapper):
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")

    def flush(self) -> None:
        self.out.flush()


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
        with tqdm(total=leads.count(), unit="lead", file=_ProgressStream(self.stderr),
                  disable=options["verbosity"] == 0) as bar:
            scored = score_leads(leads, progress=bar.update)
        self.stdout.write(self.style.SUCCESS(f"Scored {scored} leads of {whose}."))
