import pytest

from engines.providers import load_provider
from engines.providers.linkedin import ManualTaskBackend, RecordingLinkedInBackend, task_instructions

URL = "https://www.linkedin.com/in/pat"


@pytest.mark.parametrize(
    "message_type, note, expected",
    [
        ("connection_request", "Hi Pat, fellow physio here", "click Connect, add a note and paste exactly:\n\nHi Pat"),
        ("connection_request", None, "click Connect without a note"),
        ("inmail", None, "send an InMail and paste exactly:\n\nThe message"),
        ("message", None, "click Message and paste exactly:\n\nThe message"),
    ],
)
def test_instructions_follow_the_message_type(message_type, note, expected):
    assert expected in task_instructions(
        profile_url=URL, message_type=message_type, message="The message", connection_note=note
    )


def test_the_recording_backend_keeps_what_it_was_given():
    RecordingLinkedInBackend.outbox.clear()
    delivery = RecordingLinkedInBackend().send(
        profile_url=URL, message_type="connection_request", message="", connection_note="Hi", sender="Acme"
    )
    [sent] = RecordingLinkedInBackend.outbox
    assert sent["connection_note"] == "Hi" and sent["message_id"] == delivery.message_id
    assert delivery.delivery == "sent"


def test_the_default_backend_sends_nothing_itself():
    # The engine opens a ManualTask for it (engines.services.sending.manual_tasks); a backend with `send` sends.
    backend = load_provider("engines.providers.linkedin.ManualTaskBackend")
    assert isinstance(backend, ManualTaskBackend)
    assert not hasattr(backend, "send")
