"""The progress bar every bulk command shows, on the command's own stderr."""

from django.core.management.base import BaseCommand, OutputWrapper
from tqdm import tqdm


class _ProgressStream:
    """Lets tqdm redraw its line in place: Django's OutputWrapper would end every write with a newline."""

    def __init__(self, out: OutputWrapper):
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")

    def flush(self) -> None:
        self.out.flush()


def progress_bar(
    command: BaseCommand, total: int, *, verbosity: int, unit: str = "lead", desc: str | None = None
) -> tqdm:
    """A tqdm bar on `command`'s stderr, silent at verbosity 0; call its `update(n)` as work is done."""
    return tqdm(total=total, unit=unit, desc=desc, file=_ProgressStream(command.stderr), disable=verbosity == 0)
