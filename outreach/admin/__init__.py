"""The back office: one module per page; importing a module registers its ModelAdmins.

activity, lead, client, patterns, sequences, tasks (the task queue): the pages; imports: the lead import on the
Lead page; journey: a lead's pause, resume, stop, re-enrol and undo do-not-contact, its enrollments and history
(and the Enrollment and JourneyEvent pages); charts and pattern_views draw; scoping cuts every queryset to the
user's clients.
"""

from . import activity, client, journey, lead, patterns, sequences, tasks  # noqa: F401  (importing registers the ModelAdmins)
