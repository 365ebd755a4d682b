"""Provider callbacks skip the middleware made for people using a browser."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import resolve

# Where outreach/urls.py mounts the provider callbacks (anymail's URLs, Twilio, Cal.com). Not the unsubscribe
# link: people open it in a browser and it renders a page.
CALLBACK_PREFIXES = ("/anymail/", "/webhooks/")


class ProviderCallbackMiddleware:
    """Answers a provider callback with its view straight away, skipping the middleware after this one.

    Listed after SecurityMiddleware and CommonMiddleware, so the HTTPS redirect and the allowed-hosts check
    still apply; what a callback skips is sessions, CSRF, authentication, messages and the clickjacking header
    (about a sixth of a tracking event's cost). A callback carries no cookies and renders no page; every
    callback view is CSRF-exempt and checks its caller itself (basic auth, Twilio or Cal.com signatures).
    An unknown path under these prefixes answers 404 (Django turns the Resolver404 into the usual response).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(CALLBACK_PREFIXES):
            return self.get_response(request)
        match = resolve(request.path_info, getattr(request, "urlconf", None))
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)
