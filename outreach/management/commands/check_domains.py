from typing import Any

from django.core.management.base import CommandError, CommandParser

from engines.rules.dns_auth import shown
from engines.services.deliverability.domains import check_client, client_domain
from outreach.management.base import OutreachCommand
from outreach.models import AuthStatus, CheckTrigger, Client, DomainCheck
from outreach.models.domain_check import AUTH_RECORDS

STATUS_WORDS = {AuthStatus.PASS: "pass", AuthStatus.WARN: "warn", AuthStatus.FAIL: "FAIL", AuthStatus.ERROR: "ERROR"}
# Where the record column starts, and where a message under it is indented to.
INDENT = " " * 17


class Command(OutreachCommand):
    help = (
        "Check the SPF, DKIM and DMARC records of each client's sending domain (the domain of its sending email), "
        "as Gmail and Yahoo require of bulk senders, save the result (shown on the client's admin page) and print "
        "a table with the records found and what to fix. Exit status 1 when a domain does not pass."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", type=int, metavar="ID", help="only this client (default: every client)")

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = Client.objects.order_by("name", "pk")
        if options["client"] is not None:
            chosen = chosen.filter(pk=options["client"])
        clients = list(chosen)
        if options["client"] is not None:
            if not clients:
                raise CommandError(f"No client with id {options['client']}.")
            if not client_domain(clients[0]):
                raise CommandError(
                    f"Client {clients[0]} (id {clients[0].pk}) has no sending email: give it one to check its domain."
                )
        checks = []
        for client in clients:
            if not client_domain(client):
                self.stdout.write(f"{client} (id {client.pk}): no sending email, nothing to check")
                continue
            check = check_client(client, trigger=CheckTrigger.COMMAND)
            self._table(client, check)
            checks.append(check)
        self._summary(checks)

    def _table(self, client: Client, check: DomainCheck) -> None:
        self.stdout.write(f"{client} (id {client.pk}): {check.domain}")
        self.stdout.write(f"  {'check':<6} {'status':<7} record")
        for label, prefix in AUTH_RECORDS:
            status = AuthStatus(getattr(check, f"{prefix}_status"))
            lines = getattr(check, f"{prefix}_record").splitlines() or ["-"]
            style = self.style.SUCCESS if status == AuthStatus.PASS else self.style.WARNING
            self.stdout.write(f"  {label:<6} " + style(f"{STATUS_WORDS[status]:<7}") + f" {shown(lines[0])}")
            for line in lines[1:]:
                self.stdout.write(f"{INDENT}{shown(line)}")
            if status != AuthStatus.PASS:
                self.stdout.write(f"{INDENT}-> {getattr(check, f'{prefix}_message')}")

    def _summary(self, checks: list[DomainCheck]) -> None:
        failing = [check for check in checks if not check.passed]
        count = f"{len(checks)} sending domain{'s' if len(checks) != 1 else ''} checked"
        if not failing:
            self.stdout.write(self.style.SUCCESS(f"{count}: all pass."))
            return
        named = ", ".join(f"{check.client} ({check.domain}: {', '.join(check.failed_records())})" for check in failing)
        raise CommandError(f"{count}, {len(failing)} did not pass: {named}. What to fix is shown above each.")
