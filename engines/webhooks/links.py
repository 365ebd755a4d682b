"""The one-click unsubscribe link every email carries (RFC 8058)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from engines.services.outcomes import events
from engines.services.sending.unsubscribe import lead_id_from_token
from engines.webhooks.common import logger
from outreach.models import Lead


@csrf_exempt  # mail clients POST without a CSRF token (RFC 8058); the signed token is the authority
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a confirmation page with a button, changing nothing. POST List-Unsubscribe=One-Click: unsubscribe."""
    lead_id = lead_id_from_token(token)
    if lead_id is None:
        logger.warning("unsubscribe with a forged or altered token refused")
        return render(request, "engines/unsubscribe_invalid.html", status=400)
    lead = Lead.objects.select_related("client").filter(pk=lead_id).first()
    if lead is None:
        return render(request, "engines/unsubscribe_invalid.html", status=404)
    context = {"client": lead.client, "one_click": "One-Click"}
    if request.method == "GET":
        return render(request, "engines/unsubscribe_confirm.html", context)
    if request.POST.get("List-Unsubscribe") != "One-Click":
        return HttpResponse("POST List-Unsubscribe=One-Click to unsubscribe", status=400)
    events.unsubscribe_lead(lead, source="unsubscribe_link")
    return render(request, "engines/unsubscribe_done.html", context)
