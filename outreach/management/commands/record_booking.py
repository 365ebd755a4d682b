from datetime import datetime
from typing import Any

from django.core.management.base import CommandError
from django.utils import timezone

from engines.rules.provider_input import parse_moment
from engines.services.outcomes.events import record_booking
from outreach.management.base import OutreachCommand
from outreach.models import Lead


class Command(OutreachCommand):
    help = (
        "Record a meeting booked by a lead (found by id, or by email within a client): the lead is converted, "
        "the touches of its sequence that preceded the booking are credited (led_to_booking) and the rest of the "
        "sequence is cancelled. Give --event-id (e.g. the calendar's booking id) to make re-running it harmless."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--lead", type=int, metavar="ID", help="the lead's id")
        parser.add_argument("--email", help="the lead's email (with --client)")
        parser.add_argument("--client", type=int, metavar="ID", help="the client the --email lead belongs to")
        parser.add_argument("--at", help="when the meeting was booked, ISO 8601 (default: now)")
        parser.add_argument("--event-id", default="", help="an id of the booking; the same id is recorded once")

    def handle(self, *args: Any, **options: Any) -> None:
        lead = self._lead(options)
        at = self._at(options["at"])
        activity = record_booking(lead, source="command", event_id=options["event_id"], at=at)
        self.stdout.write(self.style.SUCCESS(f"{lead} (id {lead.pk}): meeting booked, activity {activity.pk}"))

    def _lead(self, options: dict[str, Any]) -> Lead:
        if options["lead"] is not None:
            if options["email"] is not None or options["client"] is not None:
                raise CommandError("Name the lead one way: --lead ID, or --email ADDRESS --client ID, not both.")
            lead = Lead.objects.filter(pk=options["lead"]).first()
            if lead is None:
                raise CommandError(f"No lead with id {options['lead']}.")
            return lead
        if not (options["email"] and options["client"] is not None):
            raise CommandError("Name the lead: --lead ID, or --email ADDRESS --client ID.")
        lead = Lead.objects.filter(client_id=options["client"], email__iexact=options["email"].strip()).first()
        if lead is None:
            raise CommandError(f"No lead with email {options['email']} at client {options['client']}.")
        return lead

    def _at(self, value: str | None) -> datetime | None:
        if not value:
            return None
        at = parse_moment(value)
        if at is None:  # malformed, or impossible: month 13, an offset of +25:00
            raise CommandError(f"--at must be an ISO 8601 date and time such as 2026-03-02T10:00+11:00, got {value!r}.")
        return at if timezone.is_aware(at) else timezone.make_aware(at)
