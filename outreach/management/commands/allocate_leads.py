from typing import Any

from django.core.management.base import BaseCommand, CommandError

from engines.services.planning.allocator import allocate_clients, leads_to_allocate
from outreach.management.progress import progress_bar
from outreach.models import Client


class Command(BaseCommand):
    help = (
        "Plan sequences for leads without a live plan (new or in-sequence leads with no planned, waiting or "
        "sending touch), for one client or every client. --replan also re-plans leads that have one (their "
        "unsent touches are cancelled and replaced). A client whose allocation fails is reported and skipped; "
        "the others are still planned, and the command then exits with an error."
    )

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--client", type=int, metavar="ID", help="plan the leads of this client")
        which.add_argument("--all", action="store_true", help="plan the leads of every client")
        parser.add_argument("--replan", action="store_true", help="also re-plan leads that already have a live plan")

    def handle(self, *args: Any, **options: Any) -> None:
        replan = options["replan"]
        if options["all"]:
            clients = list(Client.objects.order_by("pk"))
            total = leads_to_allocate(None, replan=replan).count()
        else:
            client = Client.objects.filter(pk=options["client"]).first()
            if client is None:
                raise CommandError(f"no client with id {options['client']}")
            clients, total = [client], leads_to_allocate(client, replan=replan).count()
        with progress_bar(self, total, verbosity=options["verbosity"]) as bar:
            counts, failures = allocate_clients(clients, replan=replan, progress=bar.update)
        self.stdout.write(
            self.style.SUCCESS(
                f"{counts['allocated']} leads planned ({counts['touches']} touches), "
                f"{counts['blocked']} could not be contacted, {counts['cancelled']} earlier planned touches cancelled, "
                f"{counts['skipped']} skipped (planned meanwhile by another allocation)"
            )
        )
        for client, error in failures:
            self.stderr.write(self.style.ERROR(f"client {client} (id {client.pk}) skipped: {error}"))
        if failures:
            raise CommandError(f"allocation failed for {len(failures)} of {len(clients)} clients (see above)")
