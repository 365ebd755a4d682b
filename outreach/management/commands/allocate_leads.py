from typing import Any

from django.core.management.base import CommandError

from engines.services.planning.allocator import allocate_clients, leads_to_allocate, reenroll_leads
from outreach.management.base import OutreachCommand
from outreach.management.progress import progress_bar
from outreach.models import Client, Lead

# A century: past it "finished N days ago" is before any date (an OverflowError traceback, not an answer).
MAX_AFTER_DAYS = 36_500


class Command(OutreachCommand):
    help = (
        "Enrol leads that were never enrolled (new or in-sequence leads), for one client or every client. "
        "--replan also re-plans active enrollments: their unsent steps are rescheduled after the steps already "
        "sent, keeping their numbers. --reenroll --after-days N instead starts a new enrollment for leads whose "
        "last one finished without a reply at least N days ago. A client whose allocation fails is reported "
        "and skipped; the others are still planned, and the command then exits with an error."
    )

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--client", type=int, metavar="ID", help="plan the leads of this client")
        which.add_argument("--all", action="store_true", help="plan the leads of every client")
        how = parser.add_mutually_exclusive_group()
        how.add_argument("--replan", action="store_true", help="also re-plan the unsent steps of active enrollments")
        how.add_argument(
            "--reenroll", action="store_true", help="re-enrol leads whose enrollment finished (needs --after-days)"
        )
        parser.add_argument("--after-days", type=int, metavar="N", help="with --reenroll: finished N or more days ago")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reenroll"]:
            self._reenroll(options)
            return
        if options["after_days"] is not None:
            raise CommandError("--after-days goes with --reenroll")
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

    def _reenroll(self, options: dict[str, Any]) -> None:
        after_days = options["after_days"]
        if after_days is None or after_days < 0:
            raise CommandError("--reenroll needs --after-days N (0 or more)")
        if after_days > MAX_AFTER_DAYS:
            raise CommandError(f"--after-days must be at most {MAX_AFTER_DAYS} (a century), got {after_days}")
        leads = Lead.objects.all()
        if not options["all"]:
            if not Client.objects.filter(pk=options["client"]).exists():
                raise CommandError(f"no client with id {options['client']}")
            leads = leads.filter(client_id=options["client"])
        counts = reenroll_leads(leads, after_days=after_days)
        self.stdout.write(
            self.style.SUCCESS(f"{counts['reenrolled']} leads re-enrolled, {counts['blocked']} could not be contacted")
        )
