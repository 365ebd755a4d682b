from .activity import Activity
from .choices import ActivityAction, Channel, LeadStatus, PatternType, Tier, TouchStatus
from .client import Client
from .conversion_pattern import ConversionPattern
from .lead import Lead
from .message_template import MessageTemplate
from .scheduled_touch import ScheduledTouch

__all__ = [
    "Activity",
    "ActivityAction",
    "Channel",
    "Client",
    "ConversionPattern",
    "Lead",
    "LeadStatus",
    "MessageTemplate",
    "PatternType",
    "ScheduledTouch",
    "Tier",
    "TouchStatus",
]
