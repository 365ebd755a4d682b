"""Pure rules: what a value means, with no database and no side effects.

Owns geography (countries, time zones, phone numbers), normalization of lead
and client fields, the send gates' contact rules (compliance), content
analysis (vocabularies, snapshots), the conversion pattern schemas and their
validation, and the placeholder grammar of message templates.

May import: the model choices (`outreach.models.choices`), `engines.exceptions`
and each other. Models import these rules (to normalize and validate on save);
nothing here imports a model class at run time, a service, a provider, the
admin, webhooks or tasks (checked by the import contracts in pyproject.toml).
"""
