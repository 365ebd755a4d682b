"""Signed unsubscribe links: what we put in every email, and how the endpoint reads it back.

The token carries only the lead's id, signed with SECRET_KEY and a salt of
its own (a token made for anything else never verifies here). It does not
expire: the law requires the link to keep working after the send (Spam Act
2003, CAN-SPAM: at least 30 days), and a lead unsubscribing twice is harmless.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from outreach.models import Lead

SALT = "outreach.unsubscribe"
# RFC 8058: with this header, mail clients unsubscribe with one POST to the URL, without a page.
ONE_CLICK_POST = "List-Unsubscribe=One-Click"


def unsubscribe_token(lead: Lead) -> str:
    if getattr(lead, "pk", None) is None:
        raise ValueError("an unsubscribe link needs a saved lead")
    return signing.dumps(lead.pk, salt=SALT)


def unsubscribe_url(lead: Lead) -> str:
    """The absolute, signed URL that unsubscribes `lead` (served by the webhooks' unsubscribe view)."""
    return f"{settings.PUBLIC_BASE_URL}/unsubscribe/{unsubscribe_token(lead)}/"


def lead_id_from_token(token: str) -> int | None:
    """The lead id a token was made for, or None when it is forged, altered or made for something else."""
    try:
        value = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """The List-Unsubscribe headers (RFC 2369, RFC 8058) Gmail and Yahoo require of bulk senders, for the
    lead's unsubscribe_url."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK_POST}
