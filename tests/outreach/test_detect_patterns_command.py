from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from engines.simulation.synthetic import generate_client
from outreach.models import ConversionPattern
from tests.engines.detectors.conftest import NOW, drifted_history
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


def test_the_held_out_check_no_preference_and_arms_are_shown():
    learned = generate_client(n_leads=500, seed=5).client

    out = run("--client", str(learned.pk))

    who = ConversionPattern.objects.get(client=learned, pattern_type="who").patterns["activation"]
    assert f"AUC {who['auc_new']:.3f} learned vs {who['auc_current']:.3f} in use" in out
    assert f"on the {who['leads']} newest finished leads" in out
    how = ConversionPattern.objects.get(client=learned, pattern_type="how").patterns
    busiest = max(how["arms"], key=lambda arm: arm["trials"])
    assert f"{'>'.join(busiest['sequence'])} {busiest['successes']}/{busiest['trials']}" in out
    assert "day arms: " in out and "hour arms: " in out
    for pattern in ConversionPattern.objects.filter(client=learned):
        if pattern.patterns.get("no_preference"):
            assert "no preference: " + ", ".join(pattern.patterns["no_preference"]) in out


def test_a_pattern_worse_than_the_weights_in_use_is_shown_as_not_activated():
    client = drifted_history()

    with time_machine.travel(NOW, tick=False):
        out = run("--client", str(client.pk))

    assert ", not activated" in out
    assert "NOT activated (the weights in use stay)" in out
