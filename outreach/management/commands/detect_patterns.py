from typing import Any

from django.core.management.base import BaseCommand, CommandError

from engines.services.detectors import run_detectors
from outreach.models import Client


class Command(BaseCommand):
    help = "Learn WHO, WHAT, WHEN and HOW conversion patterns for one client or every client, and say what was saved."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--client", type=int, metavar="ID", help="only this client (default: every client)")

    def handle(self, *args: Any, **options: Any) -> None:
        clients = Client.objects.order_by("pk")
        if options["client"] is not None:
            clients = clients.filter(pk=options["client"])
            if not clients.exists():
                raise CommandError(f"No client with id {options['client']}.")
        for client in clients:
            self.stdout.write(f"{client} (id {client.pk})")
            for pattern_type, result in run_detectors(client).items():
                if result.saved:
                    self.stdout.write(self.style.SUCCESS(f"  {pattern_type}: {result.reason}"))
                else:
                    self.stdout.write(self.style.WARNING(f"  {pattern_type}: skipped, {result.reason}"))
