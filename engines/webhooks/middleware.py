"""Provider callbacks skip the middleware made for people using a browser."""

from __future__ import annotations

from collections.abc import Callable
from weakref import WeakKeyDictionary

from django.http import HttpRequest, HttpResponseBase
from django.urls import URLResolver, get_resolver
from django.urls.resolvers import ResolverMatch

# Where outreach/urls.py mounts the provider callbacks (anymail's URLs, Twilio, Cal.com). Not the unsubscribe
# link: people open it in a browser and it renders a page.
CALLBACK_PREFIXES = ("/anymail/", "/webhooks/")
# Callback paths resolved so far, per URL configuration: Django walks every pattern before anymail's 25 on each
# request (4% of a tracking event). A new resolver (URLs reloaded, ROOT_URLCONF overridden) starts afresh;
# a path that resolves to nothing is not kept, and the cache is emptied when it grows (paths come from outside).
_resolved: WeakKeyDictionary[URLResolver, dict[str, ResolverMatch]] = WeakKeyDictionary()
MAX_RESOLVED = 200


def resolve_callback(path: str, urlconf: str | None = None) -> ResolverMatch:
    resolver = get_resolver(urlconf)
    known = _resolved.setdefault(resolver, {})
    match = known.get(path)
    if match is None:
        match = resolver.resolve(path)
        if len(known) >= MAX_RESOLVED:
            known.clear()
        known[path] = match
    return match


class ProviderCallbackMiddleware:
    """Answers a provider callback with its view straight away, skipping the middleware after this one.

    Listed right after SecurityMiddleware, so the HTTPS redirect and HSTS still apply, and it checks the host
    against ALLOWED_HOSTS as CommonMiddleware would (400 otherwise). What a callback skips is sessions, CSRF,
    authentication, messages, the clickjacking header and CommonMiddleware's slash and www redirects, which a
    provider posting to the exact URL it was given does not need; with the cached resolving above, 0.1 ms, a
    tenth of a tracking event. A callback carries no cookies and renders no page; every callback view is
    CSRF-exempt and checks its caller itself (basic auth, Twilio or Cal.com signatures). An unknown path under
    these prefixes answers 404.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path_info.startswith(CALLBACK_PREFIXES):
            return self.get_response(request)
        request.get_host()  # DisallowedHost (400) for a host not in ALLOWED_HOSTS
        match = resolve_callback(request.path_info, getattr(request, "urlconf", None))
        request.resolver_match = match
        response: HttpResponseBase = match.func(request, *match.args, **match.kwargs)
        return response
