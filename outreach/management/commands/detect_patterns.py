from typing import Any

from django.core.management.base import CommandError

from engines.services.learning import DetectionResult, run_detectors
from outreach.management.base import OutreachCommand
from outreach.models import Client

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Arms shown per part: the most tried first.
SHOWN_ARMS = 8


class Command(OutreachCommand):
    help = (
        "Learn WHO, WHAT, WHEN and HOW conversion patterns for one client or every client, and say what was "
        "saved: parts with no credible winner, the held-out check that decides whether a pattern is activated, "
        "and the evidence (successes / trials) of each arm exploration draws from."
    )

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
                    for line in details(result):
                        self.stdout.write(f"    {line}")
                else:
                    self.stdout.write(self.style.WARNING(f"  {pattern_type}: skipped, {result.reason}"))


def details(result: DetectionResult) -> list[str]:
    """What a saved pattern says beyond its summary line: no-preference parts, activation check, arms."""
    assert result.pattern is not None
    data = result.pattern.patterns
    lines = []
    if data.get("no_preference"):
        lines.append("no preference: " + ", ".join(data["no_preference"]))
    activation = data.get("activation")
    if activation:
        lines.append(activation_line(activation))
    for label, arms, name in (
        ("sequence arms", data.get("arms", []), lambda arm: ">".join(arm["sequence"])),
        ("day arms", data.get("day_arms", []), lambda arm: DAY_NAMES[arm["day_index"]]),
        ("hour arms", data.get("hour_arms", []), lambda arm: f"{arm['hour']:02d}h"),
    ):
        if arms:
            shown = sorted(arms, key=lambda arm: -arm["trials"])[:SHOWN_ARMS]
            counts = ", ".join(f"{name(arm)} {arm['successes']}/{arm['trials']}" for arm in shown)
            more = f" (+{len(arms) - len(shown)} more)" if len(arms) > len(shown) else ""
            lines.append(f"{label}: {counts}{more}")
    return lines


def activation_line(activation: dict) -> str:
    verdict = "activated" if activation.get("activated", True) else "NOT activated (the weights in use stay)"
    if "auc_new" in activation:
        low, high = activation["interval"]
        return (
            f"held-out check: AUC {activation['auc_new']:.3f} learned vs {activation['auc_current']:.3f} in use "
            f"on the {activation['leads']} newest finished leads (difference {low:+.3f} to {high:+.3f}): {verdict}"
        )
    if not activation.get("checked"):
        return f"held-out check: nothing to check on the {activation.get('units', 0)} newest units: {verdict}"
    low, high = activation["interval"]
    return (
        f"held-out check: {activation['rate_following']:.3f} when following the choice vs "
        f"{activation['rate_rest']:.3f} otherwise, {activation['following']} of the {activation['units']} newest "
        f"units (ratio {low:.2f} to {high:.2f}): {verdict}"
    )
