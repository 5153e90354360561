"""`text ~` gets an index: the description's plain text in its own column, and trigram indexes.

The column is filled from the existing descriptions here. On PostgreSQL, `pg_trgm` and a GIN trigram
index on UPPER(summary) and on UPPER(description_text), the expressions Django's `icontains` compares,
so that `text ~ "word"` reads the index instead of every issue. SQLite (the embedded default) has no
such index: there the operations below do nothing and the search scans, as before.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

from jira.adf import adf_to_text

INDEXES = {"jira_issue_summary_trgm": "summary", "jira_issue_description_trgm": "description_text"}


def fill_description_text(apps, schema_editor):
    Issue = apps.get_model("jira", "Issue")
    batch = []
    for issue in Issue.objects.only("pk", "description").order_by("pk").iterator(chunk_size=2000):
        issue.description_text = adf_to_text(issue.description)
        batch.append(issue)
        if len(batch) == 2000:
            Issue.objects.bulk_update(batch, ["description_text"])
            batch = []
    Issue.objects.bulk_update(batch, ["description_text"])


class PostgresTrigramExtension(TrigramExtension):
    """`pg_trgm` on PostgreSQL; nothing elsewhere, both ways (Django's own skips only forwards)."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX "{name}" ON "jira_issue" USING gin (UPPER("{column}") gin_trgm_ops)')


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("jira", "0004_reference_data")]
    operations = [
        migrations.AddField(model_name="issue", name="description_text",
                            field=models.TextField(blank=True, default="", db_default="", editable=False)),
        migrations.RunPython(fill_description_text, migrations.RunPython.noop),
        PostgresTrigramExtension(),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
    ]
