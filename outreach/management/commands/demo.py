from django.core.management.base import BaseCommand

from engines.services.demo import seed_sample_agency


class Command(BaseCommand):
    help = "Load the sample agency and show what Outreach knows about it."

    def handle(self, *args, **options) -> None:
        client = seed_sample_agency()
        self.stdout.write(self.style.SUCCESS(f"Sample client: {client} (id {client.pk})"))
        for lead in client.leads.order_by("pk"):
            self.stdout.write(f"  {lead}  · {lead.title} · {lead.timezone or 'timezone from phone/country'}")
        self.stdout.write(
            f"{client.leads.count()} leads, {client.message_templates.filter(active=True).count()} active templates. "
            "Browse them with `.venv/bin/python manage.py createsuperuser` then `.venv/bin/python manage.py runserver` → /admin/."
        )
