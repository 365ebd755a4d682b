"""The product's management commands answer a database they cannot use with one line saying what to do.

An unmigrated database (no such table) or an unreachable one (a wrong DATABASE_URL, a server that is down)
ended every command in an OperationalError traceback. Each command's class derives from OutreachCommand,
which turns those into a CommandError: Django prints it as one line and exits with status 1.

A file the command was given but cannot open (missing, a directory, no permission; an OSError naming the file)
is answered the same way, wherever the opening happens: in the command or in the engine it calls.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, ProgrammingError

# What PostgreSQL and SQLite say of a table that is not there: the database was never migrated.
_MISSING_TABLE = ("no such table", "does not exist")


def database_problem(error: OperationalError | ProgrammingError) -> str:
    """What to do about a database a command could not use."""
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if any(words in first_line for words in _MISSING_TABLE):
        return f"the database is not migrated ({first_line}): run `python manage.py migrate` first"
    return f"the database cannot be reached ({first_line}): check DATABASE_URL and that the server is running"


def file_problem(error: OSError) -> str:
    """What went wrong with a file a command could not open, read or write."""
    return f"cannot open {error.filename}: {error.strerror or error}"


class OutreachCommand(BaseCommand):
    def execute(self, *args: object, **options: object) -> str | None:
        try:
            return super().execute(*args, **options)
        except (OperationalError, ProgrammingError) as error:
            raise CommandError(database_problem(error)) from error
        except OSError as error:
            if error.filename is None:  # not a file: a socket, a closed pipe; a bug to show in full
                raise
            raise CommandError(file_problem(error)) from error
