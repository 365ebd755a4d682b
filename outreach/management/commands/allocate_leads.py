from django.core.management.base import BaseCommand, CommandError

from engines.services.allocator import allocate_leads, leads_to_allocate
from outreach.management.progress import progress_bar
from outreach.models import Client


class Command(BaseCommand):
    help = (
        "Plan sequences for leads that have none (new or in-sequence leads without a planned touch). "
        "--all also re-plans leads that already have planned touches (those are cancelled and replaced)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--client", type=int, help="only this client's leads (id)")
        parser.add_argument(
            "--all", action="store_true", dest="replan", help="re-plan leads that already have planned touches"
        )

    def handle(self, *args, client: int | None = None, replan: bool = False, **options) -> None:
        if client is not None and not Client.objects.filter(pk=client).exists():
            raise CommandError(f"no client with id {client}")
        leads = leads_to_allocate(client, replan=replan)
        with progress_bar(self, leads.count(), verbosity=options["verbosity"]) as bar:
            counts = allocate_leads(leads, progress=bar.update)
        self.stdout.write(
            self.style.SUCCESS(
                f"{counts['allocated']} leads planned ({counts['touches']} touches), "
                f"{counts['blocked']} could not be contacted, {counts['cancelled']} earlier planned touches cancelled"
            )
        )
