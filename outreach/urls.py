from django.contrib import admin
from django.urls import include, path

from engines import webhooks
from outreach.admin import home

urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", home.favicon, name="favicon"),
    # anymail's own tracking and inbound URLs per ESP, guarded (size, one transaction, 4xx on bad input).
    path("anymail/", include(webhooks.anymail_urlpatterns())),
    path("unsubscribe/<str:token>/", webhooks.unsubscribe, name="unsubscribe"),
    path("webhooks/twilio/sms/status/", webhooks.twilio_sms_status, name="twilio-sms-status"),
    path("webhooks/twilio/sms/inbound/", webhooks.twilio_sms_inbound, name="twilio-sms-inbound"),
    path("webhooks/twilio/voice/status/", webhooks.twilio_voice_status, name="twilio-voice-status"),
    path("webhooks/booking/", webhooks.booking_webhook, name="booking-webhook"),
]
