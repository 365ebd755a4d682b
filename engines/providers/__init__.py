"""Adapters to the outside world (SMS, LinkedIn), each a small class chosen by dotted path in settings.

Email needs no adapter of ours: anymail already is one (EMAIL_BACKEND).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


def load_provider(dotted_path: str) -> object:
    """An instance of the provider class at `dotted_path` (e.g. settings.SMS_PROVIDER).

    What it is depends on settings, so callers say which interface they expect (`cast(SmsProvider, ...)`).
    """
    try:
        provider_class = import_string(dotted_path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"cannot load provider {dotted_path!r}: {exc}") from exc
    return provider_class()
