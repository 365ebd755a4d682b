"""The back office: one module per page; importing a module registers its ModelAdmins.

activity, lead, client, patterns, sequences, tasks (the task queue): the pages; imports: the lead import on the
Lead page; journey: a lead's pause, resume, stop, re-enrol and undo do-not-contact, its enrollments and history
(and the Enrollment and JourneyEvent pages); charts and pattern_views draw; scoping cuts every queryset to the
user's clients. mailboxes: the sending mailboxes (and their inline on the Client page). home: the admin index
(the agency home), also where "View site" leads.
"""

from typing import cast

from django.contrib import admin
from django.urls import reverse_lazy

from . import activity, client, home, inbox, journey, lead, mailboxes, patterns, sequences, tasks  # noqa: F401  (importing registers the ModelAdmins)

home.install(admin.site)
# There is no public site: "View site" leads to the agency home (the admin index), not to "/" (a 404).
admin.site.site_url = cast(str, reverse_lazy("admin:index"))
