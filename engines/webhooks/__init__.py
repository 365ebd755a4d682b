"""Provider callbacks: anymail's tracking and inbound signals, Twilio, Cal.com, and the unsubscribe link.

Each one checks who is calling, parses the request into one normalized
event and hands it to one service in engines.services.outcomes.events. A replay
answers 200 so the provider stops retrying; a malformed body (bad JSON,
missing fields, unknown message id, oversized) answers 4xx with a log line
and writes nothing; a forged signature answers 403 (anymail's basic auth: 400).
Importing this package connects the anymail receivers. See docs/outcomes.md.
"""

from engines.webhooks.booking import booking_webhook
from engines.webhooks.email import anymail_urlpatterns
from engines.webhooks.links import unsubscribe
from engines.webhooks.twilio import twilio_sms_inbound, twilio_sms_status, twilio_voice_status

__all__ = [
    "anymail_urlpatterns",
    "booking_webhook",
    "twilio_sms_inbound",
    "twilio_sms_status",
    "twilio_voice_status",
    "unsubscribe",
]
