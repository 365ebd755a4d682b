from datetime import datetime

from django.core.management.base import BaseCommand

from engines.services.scorer import DEFAULT_WEIGHTS, als_tier, explain_score
from engines.simulation.demo import run_demo
from outreach.management.progress import progress_bar

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Command(BaseCommand):
    help = "Build the sample agency, learn from its 90-day history, then score and plan its new leads."

    def add_arguments(self, parser):
        parser.add_argument("--history-leads", type=int, default=2000, help="size of the synthetic history")
        parser.add_argument("--seed", type=int, default=16)

    def handle(self, *args, history_leads: int, seed: int, **options) -> None:
        with progress_bar(self, history_leads, verbosity=options["verbosity"], desc="history") as bar:
            run = run_demo(history_leads=history_leads, seed=seed, progress=bar.update)
        out = self.stdout
        out.write(self.style.MIGRATE_HEADING(f"\n{run.client} (client {run.client.pk})"))
        out.write(
            f"history: {run.history.leads:,} leads, {run.history.activities:,} activities, "
            f"{run.history.scheduled_touches:,} sequence steps over 90 days"
        )

        out.write(self.style.MIGRATE_HEADING("\nWhat Outreach learned"))
        for pattern_type, result in run.learned.items():
            if not result.saved:
                out.write(f"  {pattern_type.upper():4} nothing saved: {result.reason}")
                continue
            data = result.pattern.patterns
            out.write(
                f"  {pattern_type.upper():4} {self._summary(pattern_type, data)}  "
                f"(n={data['sample_size']:,}, confidence {data['confidence']:.2f})"
            )

        out.write(self.style.MIGRATE_HEADING("\nNew leads, scored with the learned weights"))
        for lead in run.leads:
            explained = explain_score(lead.als_components, lead.als_weights_used)["components"]
            parts = " · ".join(
                f"{name.replace('_', ' ')} {item['points']}/{item['max']}"
                + (f"×{item['weight']:.2f}" if item["weight"] is not None else "")
                for name, item in explained.items()
            )
            out.write(
                f"  {lead.als_score:3} {als_tier(lead.als_score):4}  {lead}  [{parts}] "
                f"weights: {lead.als_weights_source}"
            )

        out.write(self.style.MIGRATE_HEADING("\nPlanned sequences, in each lead's local time"))
        for lead in run.leads:
            if lead.pk in run.blocked:
                out.write(self.style.WARNING(f"  {lead}: not contacted ({run.blocked[lead.pk]})"))
                continue
            plan = run.plans[lead.pk]
            steps = ", ".join(
                f"{t['touch_number']} {t['channel']} {self._when(t['scheduled_at'])}" for t in plan["scheduled_touches"]
            )
            out.write(f"  {lead}: {steps}")
        out.write(
            self.style.SUCCESS(
                "\nDone. Browse it all in the admin: `.venv/bin/python manage.py createsuperuser`, "
                "then `.venv/bin/python manage.py runserver` and open /admin/."
            )
        )

    @staticmethod
    def _when(iso: str) -> str:
        local = datetime.fromisoformat(iso)
        return f"{DAY_NAMES[local.weekday()]} {local:%d %b %H:%M}"

    @staticmethod
    def _summary(pattern_type: str, data: dict) -> str:
        if pattern_type == "who":
            learned = data["recommended_weights"]
            return "weights " + ", ".join(
                f"{key} {learned[key]:.2f} (default {DEFAULT_WEIGHTS[key]:.2f})" for key in DEFAULT_WEIGHTS
            )
        if pattern_type == "when":
            days = ", ".join(DAY_NAMES[d["day_index"]] for d in data["best_days"][:3])
            hours = ", ".join(f"{h['hour']}:00" for h in data["best_hours"][:3])
            return f"best days {days or '-'}; best hours {hours or '-'}; peak touch {data['peak_converting_touch']}"
        if pattern_type == "how":
            top = data["winning_sequences"][0]["sequence"] if data["winning_sequences"] else []
            return f"first channel {data['best_first_channel'] or '-'}; winning sequence {' → '.join(top) or '-'}"
        return (
            f"effective CTAs {', '.join(data['ctas']['effective']) or '-'}; effective pain points "
            f"{', '.join(data['pain_points']['effective']) or '-'}; ineffective "
            f"{', '.join(data['pain_points']['ineffective']) or '-'}"
        )
