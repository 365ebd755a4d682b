"""The demo's report.html stands on its own: every CSS variable its styles use is defined in the page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from engines.simulation.agency import build_agency
from engines.simulation.loop import Cohort, LoopResult
from engines.simulation.report import _theme_variables, build_report, write_html
from tests.factories import ConversionPatternFactory

pytestmark = pytest.mark.django_db

USED = re.compile(r"var\(\s*(--[\w-]+)\s*(,)?")
DEFINED = re.compile(r"(?:^|[;{\s])(--[\w-]+)\s*:\s*([^;}]+)")


def _undefined(html: str) -> set[str]:
    """The variables used without a fallback that no rule of the page defines (with a value)."""
    styles = "\n".join(re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.S))
    inline = " ".join(re.findall(r'style="([^"]*)"', html))
    defined = {name for name, value in DEFINED.findall(styles + ";" + inline) if value.strip()}
    used = {name for name, fallback in USED.findall(html) if not fallback}
    return used - defined


@pytest.fixture
def report_html(tmp_path):
    clients = build_agency()
    now = timezone.now()
    learned = {"data_quality": 0.10, "authority": 0.15, "company_fit": 0.40, "timing": 0.20}
    ConversionPatternFactory(
        client=clients[0], patterns={"recommended_weights": learned}, activated=True, computed_at=now
    )
    cohorts = [Cohort("before learning", now - timedelta(weeks=4)), Cohort("after learning", now - timedelta(weeks=2))]
    loop = LoopResult(clients, cohorts, now - timedelta(weeks=4), now, now - timedelta(weeks=2))
    return write_html(build_report(loop, horizon_days=14), tmp_path / "report.html").read_text(encoding="utf-8")


def test_the_report_defines_every_css_variable_it_uses(report_html):
    assert USED.search(report_html), "the report inlines the admin's styles, which use variables"
    assert _undefined(report_html) == set()


def test_the_report_gives_markers_and_axes_a_colour(report_html):
    root = re.search(r":root\s*\{([^}]*)\}", report_html)
    assert root is not None
    colours = dict(DEFINED.findall(root.group(1)))
    for name in ("--body-fg", "--body-quiet-color", "--hairline-color"):  # markers, axes, grid and table rules
        assert colours[name].strip().startswith("#"), name


def test_the_check_itself_catches_an_undefined_variable():
    assert _undefined("<style>.a { stroke: var(--nowhere); }</style>") == {"--nowhere"}
    assert _undefined("<style>.a { stroke: var(--nowhere, #000); }</style>") == set()
    assert _undefined("<style>:root { --here: #000 } .a { stroke: var(--here); }</style>") == set()


def test_theme_variables_follow_variables_that_use_variables():
    block = _theme_variables(".a { color: var(--header-branding-color); border-color: var(--border-color) }")
    assert "--header-branding-color: var(--accent);" in block
    assert "--accent: #" in block and "--border-color: #ccc;" in block
