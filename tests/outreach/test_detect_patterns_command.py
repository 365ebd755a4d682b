from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engines.simulation.synthetic import generate_client
from outreach.models import ConversionPattern
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("detect_patterns", *args, stdout=out)
    return out.getvalue()


def test_one_client_says_what_was_saved():
    learned = generate_client(n_leads=500, seed=5).client
    other = ClientFactory()

    out = run("--client", str(learned.pk))

    assert f"{learned} (id {learned.pk})" in out
    for pattern_type in ("who", "what", "when", "how"):
        assert f"  {pattern_type}: saved from " in out
    assert str(other) not in out
    assert ConversionPattern.objects.filter(client=learned).count() == 4
    assert not ConversionPattern.objects.filter(client=other).exists()


def test_every_client_by_default_and_why_nothing_was_saved():
    first, second = ClientFactory(), ClientFactory()

    out = run()

    assert out.index(f"{first} (id {first.pk})") < out.index(f"{second} (id {second.pk})")
    assert out.count("who: skipped, only 0 finished leads in the window (need 100)") == 2
    assert not ConversionPattern.objects.exists()


def test_an_unknown_client_is_an_error():
    with pytest.raises(CommandError, match="No client with id 999999"):
        run("--client", "999999")
