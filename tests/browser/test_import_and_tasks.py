"""The admin in a real browser: logging in (with the admin's own CSS served), importing leads, closing a task."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.factories import ClientFactory

pytestmark = pytest.mark.integration


def test_login_shows_the_admin_with_its_stylesheet(admin_login, staff_user):
    client = ClientFactory(name="Harbour Dental")
    page = admin_login(staff_user("alex", client))
    # The stylesheet is served by the live server: the header gets the admin's colours, not the browser default.
    css = page.request.get(page.locator("link[rel=stylesheet]").first.get_attribute("href"))
    assert css.ok and "#header" in css.text()
    expect(page.locator("#header")).not_to_have_css("background-color", "rgba(0, 0, 0, 0)")
    screenshot(page, "login_admin_index")
