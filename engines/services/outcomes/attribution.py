"""Which client, and which of its leads, an inbound email or SMS belongs to.

An event is attributed only within the client its address, number or message id belongs to: no look-up falls
back to another client, because a lead of client B who writes to client A is no business of A's, and marking
it replied (or unsubscribing it) would act on B's outreach for A's mail. Bookings follow the same rule by their
organizer (outcomes.bookings.booking_lead); tracking events name the message we sent, hence its lead.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import F, Q, Value
from django.db.models.functions import Lower

from engines.services.outcomes.events import last_sent
from outreach.models import Activity, ActivityAction, Channel, Client, Lead, Mailbox


def clients_at(addresses: Sequence[str]) -> list[tuple[int, bool]]:
    """The clients these addresses (lower case) belong to, as (client id, whether it is a mailbox of the client
    rather than its sending_email), in one query."""
    return list(
        Client.objects.annotate(address=Lower("sending_email"), mailbox=Value(False))
        .filter(address__in=addresses)
        .values_list("pk", "mailbox")
        .order_by()
        .union(
            Mailbox.objects.filter(address__in=addresses)
            .annotate(mailbox=Value(True))
            .values_list("client_id", "mailbox")
            .order_by()
        )
    )


def email_reply(
    sender: str, recipients: Sequence[str], message_ids: Sequence[str]
) -> tuple[Lead | None, Activity | None]:
    """The lead an inbound email is from and the email of ours it answers, or (None, None).

    The clients are those whose `sending_email`, or one of whose mailboxes' addresses, is among `recipients`
    (lower case). A referenced message (`message_ids`, from In-Reply-To / References: the ESP's id or our own
    Message-ID) names its lead, but only when it was sent for one of those clients, or when the email was
    written to no client's address at all (an ESP's inbound domain): a message id never moves a reply to another
    client than the one it was written to. Otherwise the sender's lead within those clients, when exactly one
    client has it, answering that lead's last email from the mailbox written to (else its last email).
    """
    written_to = clients_at(recipients)
    clients = list({pk for pk, _ in written_to})
    if message_ids:
        sent = Activity.objects.select_related("lead").filter(
            Q(provider_message_id__in=message_ids) | Q(message_id__in=message_ids), action=ActivityAction.EMAIL_SENT
        )
        if clients:
            sent = sent.filter(lead__client_id__in=clients)
        answered = sent.order_by("-created_at").first()
        if answered is not None:
            return answered.lead, answered
    if not clients:
        return None, None
    leads = list(Lead.objects.filter(client_id__in=clients, email__iexact=sender).order_by("-last_contacted_at", "-pk"))
    if len({lead.client_id for lead in leads}) != 1:  # none, or two clients written to at once both have it
        return None, None
    if any(mailbox for _, mailbox in written_to):
        from_mailbox = Activity.objects.filter(
            lead=leads[0], action=ActivityAction.EMAIL_SENT, mailbox__address__in=recipients
        ).order_by("-created_at")
        answered = from_mailbox.first()
        if answered is not None:
            return leads[0], answered
    return leads[0], last_sent(leads[0], channel=Channel.EMAIL)


def phone_leads(lead_phone: str, client_phone: str) -> list[Lead]:
    """The leads with `lead_phone` at the client whose sending number `client_phone` is (an inbound SMS's To, a
    call's From), the last contacted first; none when no client has the number, or when the phone is a lead of
    several clients sharing it: whose lead it is cannot be told, and a STOP must not opt out another client's."""
    leads = list(
        Lead.objects.select_related("client")
        .filter(phone=lead_phone, client__sending_phone=client_phone)
        .order_by(F("last_contacted_at").desc(nulls_last=True), "-pk")
    )
    return leads if len({lead.client_id for lead in leads}) == 1 else []
