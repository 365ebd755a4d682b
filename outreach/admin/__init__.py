"""The back office: one module per page; importing a module registers its ModelAdmins.

activity, lead, client, patterns, sequences: the pages; charts and pattern_views draw; scoping cuts every
queryset to the user's clients.
"""

from . import activity, client, lead, patterns, sequences  # noqa: F401
