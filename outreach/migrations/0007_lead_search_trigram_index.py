"""Trigram index for the admin's lead search (PostgreSQL only).

The admin searches a lead's name, email and company as one text; the expression must stay identical to
outreach.admin.search.LeadSearchText. pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may
create it. Where it cannot be created the index is skipped and the search still works, by a full scan.
"""

from django.db import migrations

INDEX = (
    "CREATE INDEX IF NOT EXISTS lead_search_trgm ON outreach_lead USING gin ("
    "UPPER(first_name || ' ' || last_name || ' ' || email || ' ' || company_name) gin_trgm_ops)"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS lead_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("outreach", "0006_activity_time_index")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
