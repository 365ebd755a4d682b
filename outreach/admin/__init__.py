"""Basic admin for every model; the rich views (charts, score explanations) come later."""

from django.contrib import admin
from django.db import models

from outreach.models import Activity, Client, ConversionPattern, Lead, MessageTemplate, ScheduledTouch


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "sending_email", "sending_phone", "timezone", "country")
    search_fields = ("name", "sending_email")


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("__str__", "client", "title", "status", "als_score", "als_weights_source", "touch_count")
    list_filter = ("client", "status", "als_weights_source", "do_not_contact", "is_unsubscribed")
    search_fields = ("first_name", "last_name", "email", "company_name")
    readonly_fields = ("als_score", "als_components", "als_weights_used", "als_weights_source", "scored_at")
    # LinkedIn profile URLs typed without a scheme are https (Django 6 makes this the default).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("created_at", "client", "lead", "action", "channel", "touch_number", "led_to_booking")
    list_filter = ("client", "action", "channel", "led_to_booking")
    raw_id_fields = ("lead",)
    date_hierarchy = "created_at"


@admin.register(ConversionPattern)
class ConversionPatternAdmin(admin.ModelAdmin):
    list_display = ("client", "pattern_type", "sample_size", "confidence", "computed_at", "valid_until")
    list_filter = ("client", "pattern_type")


@admin.register(ScheduledTouch)
class ScheduledTouchAdmin(admin.ModelAdmin):
    list_display = ("lead", "client", "touch_number", "channel", "scheduled_at", "status", "attempts")
    list_filter = ("client", "status", "channel")
    raw_id_fields = ("lead", "activity")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ("__str__", "client", "channel", "touch_number", "active")
    list_filter = ("client", "channel", "active")
