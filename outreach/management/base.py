"""The product's management commands answer bad input with one `Error: ...` line saying what to do.

An unmigrated database (no such table) or an unreachable one (a wrong DATABASE_URL, a server that is down)
ended every command in an OperationalError traceback. Each command's class derives from OutreachCommand,
which turns those into a CommandError, like the commands' own checks of their input.

A file the command was given but cannot open (missing, a directory, no permission; an OSError naming the file)
is answered the same way, wherever the opening happens: in the command or in the engine it calls.

Run from a shell, a CommandError is shown as one line, `Error: <message>` on stderr, and the command exits with
the error's returncode (1 unless the command chose another); with --traceback it is raised in full instead.
Django's own run_from_argv would show it as `CommandError: <message>`, the exception's class name. Through
call_command (tests, other commands) a CommandError is raised as Django documents. A malformed command line is
argparse's answer: its usage, then `manage.py <command>: error: ...`, exit status 2.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, SystemCheckError
from django.db import OperationalError, ProgrammingError

# What PostgreSQL and SQLite say of a table or column that is not there: the database was never migrated, or not
# since the code added it.
_NOT_MIGRATED = ("no such table", "no such column", "does not exist")


def database_problem(error: OperationalError | ProgrammingError) -> str:
    """What to do about a database a command could not use."""
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if any(words in first_line for words in _NOT_MIGRATED):
        return f"the database is not migrated ({first_line}): run `python manage.py migrate` first"
    return f"the database cannot be reached ({first_line}): check DATABASE_URL and that the server is running"


def file_problem(error: OSError) -> str:
    """What went wrong with a file a command could not open, read or write."""
    return f"cannot open {error.filename}: {error.strerror or error}"


class OutreachCommand(BaseCommand):
    def execute(self, *args: object, **options: object) -> str | None:
        try:
            return self._execute_with_plain_errors(*args, **options)
        except CommandError as error:
            # Django's run_from_argv would print the class name ("CommandError: ..."); call_command must raise.
            shown_by_django = isinstance(error, SystemCheckError) or options.get("traceback")
            if not getattr(self, "_called_from_command_line", False) or shown_by_django:
                raise
            self.stderr.write(f"Error: {error}")
            sys.exit(error.returncode)  # run_from_argv still closes the connections on the way out

    def _execute_with_plain_errors(self, *args: object, **options: object) -> str | None:
        try:
            return super().execute(*args, **options)
        except (OperationalError, ProgrammingError) as error:
            raise CommandError(database_problem(error)) from error
        except OSError as error:
            if error.filename is None:  # not a file: a socket, a closed pipe; a bug to show in full
                raise
            raise CommandError(file_problem(error)) from error
