from typing import Any

from engines.services.deliverability.mailboxes import check_all_health
from outreach.management.base import OutreachCommand
from outreach.models import MailboxStateReason


class Command(OutreachCommand):
    help = (
        "Judge every sending mailbox, and every sending domain, on its hard-bounce and complaint rates over its "
        "last 500 sends or 7 days (whichever is shorter); pause those over their limits (their enrollments that "
        "have not sent from them yet move to the client's other mailboxes), and make active the warming mailboxes "
        "whose warm-up reached their daily cap. Prints what changed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = check_all_health()
        for mailbox, reason in report.paused:
            self.stdout.write(
                self.style.WARNING(f"paused {mailbox} (client {mailbox.client_id}): {MailboxStateReason(reason).label}")
            )
        for mailbox in report.warmed_up:
            self.stdout.write(f"warmed up: {mailbox} (client {mailbox.client_id}) is active")
        self.stdout.write(
            f"{report.checked} mailbox{'es' if report.checked != 1 else ''} checked: {len(report.paused)} paused, "
            f"{len(report.warmed_up)} warmed up."
        )
