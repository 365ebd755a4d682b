"""Full-text index on the body of each Activity's snapshot, for the admin's search (PostgreSQL only).

The expression must stay identical to outreach.admin.search.BodyMatches, which the search repeats so
PostgreSQL uses this index. SQLite has no such index: its search is a substring scan.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS activity_body_fts ON outreach_activity "
    "USING gin (to_tsvector('english', COALESCE(content_snapshot ->> 'body', '')))"
)
DROP = "DROP INDEX IF EXISTS activity_body_fts"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("outreach", "0004_client_is_demo")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
