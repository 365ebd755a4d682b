"""The reply inbox (/admin/outreach/inbox/): the replies of the user's clients, newest first, and a person's
decision about each.

The list shows each reply's new words, its intent, its lead and the message it answered; it filters waiting
replies (the lead still "replied", nobody decided yet), one client, and searches the reply text. A reply's page
(/admin/outreach/inbox/<id>/) shows the whole reply (the quoted history folded), the message it answered, the
intent (a person may correct it) and the decisions: interested, not interested, later (a date), wrong person,
unsubscribe, meeting booked, each applied by engines.services.outcomes.inbox through the journey and outcomes
services and recorded on the reply with who and when. Scoped as every page (scoping.visible_clients): a reply
of another client answers 404. Viewing needs the Activity view permission, deciding the Lead change permission.
Importing this module adds the pages to admin.site and a "Reply inbox" row to the Outreach app list.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from engines.exceptions import JourneyError
from engines.services.outcomes import inbox
from engines.services.outcomes.intent import ReplyIntent
from outreach.models import Activity

from .journey import request_user
from .pagination import CappedCountPaginator
from .scoping import visible_clients

PER_PAGE = 25
LIST_URL = "admin:outreach_inbox"
REPLY_URL = "admin:outreach_inbox_reply"


def can_view(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and user.has_perm("outreach.view_activity"))


def can_decide(request: HttpRequest) -> bool:
    return bool(can_view(request) and request.user.has_perm("outreach.change_lead"))


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[(choice.value, choice.label) for choice in inbox.Decision])
    # How many decisions the page showed: a double submit, or a decision taken meanwhile, applies nothing.
    seen = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    until = forms.DateField(
        required=False, label="Try again on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    note = forms.CharField(required=False, max_length=500)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == inbox.Decision.LATER and not data.get("until"):
            self.add_error("until", "Give the date to try again.")
        return data


class IntentForm(forms.Form):
    intent = forms.ChoiceField(choices=[(intent.value, intent.value.replace("_", " ")) for intent in ReplyIntent])


def _visible(request: HttpRequest) -> Any:
    return None if request.user.is_superuser else visible_clients(request)


def inbox_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """The list: newest first, 25 a page; ?show=waiting|decided, ?client=<id>, ?q=<words of the reply>."""
    if not can_view(request):
        raise PermissionDenied
    show = request.GET.get("show", inbox.Show.ALL)
    show = show if show in set(inbox.Show) else inbox.Show.ALL
    query = request.GET.get("q", "")
    clients = visible_clients(request).order_by("name")
    client_id = _int(request.GET.get("client"))
    found = inbox.replies(_visible(request), show=show, query=query, client_id=client_id)
    paginator = CappedCountPaginator(found, PER_PAGE)
    page = paginator.get_page(request.GET.get("p"))
    rows = [inbox.describe(reply) for reply in page.object_list]
    params = {key: value for key, value in {"show": show, "client": client_id or "", "q": query}.items() if value}
    context = {
        **site.each_context(request),
        "title": "Reply inbox",
        "rows": rows,
        "page": page,
        "paginator": paginator,
        "show": show,
        "shows": [(choice.value, choice.value.capitalize()) for choice in inbox.Show],
        "query": query,
        "clients": list(clients.values_list("pk", "name")),
        "client_id": client_id,
        "params": params,
        "page_query": urlencode(params),
        "reply_query": urlencode({"back": f"?{urlencode({**params, 'p': page.number})}"}),
    }
    return TemplateResponse(request, "admin/outreach/inbox/list.html", context)


def reply_view(request: HttpRequest, site: AdminSite, pk: str) -> HttpResponse:
    """One reply: GET shows it with its forms; POST sets the intent or applies a decision, then back here."""
    if not can_view(request):
        raise PermissionDenied
    reply = inbox.replies(_visible(request)).filter(pk=pk).first()
    if reply is None:  # another client's reply, or no reply at all: the same answer
        raise Http404(f"No reply with id {pk!r}")
    here = reverse(REPLY_URL, args=[reply.pk])
    back = request.GET.get("back", "")
    if not back.startswith("?"):
        back = ""
    if request.method == "POST":
        if not can_decide(request):
            raise PermissionDenied
        _post(request, reply)
        return HttpResponseRedirect(here + (f"?{urlencode({'back': back})}" if back else ""))
    view = inbox.describe(reply)
    decision_form = DecisionForm(initial={"seen": len(view.decisions), "until": inbox.later_default(reply).isoformat()})
    context = {
        **site.each_context(request),
        "title": f"Reply from {reply.lead}",
        "row": view,
        "list_url": reverse(LIST_URL) + back,
        "can_decide": can_decide(request),
        "intent_form": IntentForm(initial={"intent": view.intent}),
        "decision_form": decision_form,
        "decisions": [(choice.value, choice.label) for choice in inbox.Decision],
    }
    return TemplateResponse(request, "admin/outreach/inbox/reply.html", context)


def _post(request: HttpRequest, reply: Activity) -> None:
    user = request_user(request)
    if "intent" in request.POST:
        intent_form = IntentForm(request.POST)
        if not intent_form.is_valid():
            messages.error(request, "Choose one of the intents.")
            return
        changed = inbox.set_intent(reply, intent_form.cleaned_data["intent"], by=user)
        messages.success(request, "Intent saved." if changed else "The intent was that already.")
        return
    form = DecisionForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"Nothing was changed: {errors}")
        return
    data = form.cleaned_data
    try:
        decided = inbox.decide(
            reply, data["decision"], by=user, seen=data["seen"], until=data.get("until"), note=data.get("note", "")
        )
    except JourneyError as error:
        messages.error(request, f"Nothing was changed: {error}")
        return
    if decided.applied:
        messages.success(request, f"{decided.decision.label}: {decided.detail}.")
    else:
        messages.info(request, f"Nothing more to do: {decided.detail}.")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def install(site: AdminSite) -> None:
    """Add the inbox's pages to `site`'s URLs, and its row to the Outreach app in the app list."""
    stock_urls: Callable[[], list[Any]] = site.get_urls
    stock_app_list: Callable[..., list[dict[str, Any]]] = site.get_app_list

    @wraps(stock_urls)
    def get_urls() -> list[Any]:
        ours: list[URLPattern] = [
            path("outreach/inbox/", site.admin_view(lambda request: inbox_view(request, site)), name="outreach_inbox"),
            path(
                "outreach/inbox/<uuid:pk>/",
                site.admin_view(lambda request, pk: reply_view(request, site, str(pk))),
                name="outreach_inbox_reply",
            ),
        ]
        return [*ours, *stock_urls()]

    @wraps(stock_app_list)
    def get_app_list(request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = stock_app_list(request, app_label)
        for app in apps:
            # The Outreach app is listed only for users with clients: the row needs no query of its own.
            if app.get("app_label") == "outreach" and can_view(request):
                row = {"name": "Reply inbox", "object_name": "ReplyInbox", "perms": {"view": True},
                       "admin_url": reverse(LIST_URL), "add_url": None, "view_only": True}  # fmt: skip
                app["models"] = sorted([*app["models"], row], key=lambda model: str(model["name"]).lower())
        return apps

    site.get_urls = get_urls  # type: ignore[method-assign]
    site.get_app_list = get_app_list  # type: ignore[method-assign]


install(admin.site)
