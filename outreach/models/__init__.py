from .activity import Activity
from .choices import (
    ActivityAction,
    Channel,
    EnrollmentState,
    LeadStatus,
    MembershipRole,
    PatternType,
    StopReason,
    TaskKind,
    TaskStatus,
    Tier,
    TouchStatus,
)
from .client import Client
from .conversion_pattern import ConversionPattern
from .early_status import EarlyStatus
from .enrollment import Enrollment, JourneyEvent
from .lead import Lead
from .manual_task import ManualTask
from .membership import ClientMembership
from .message_template import MessageTemplate
from .scheduled_touch import ScheduledTouch

__all__ = [
    "Activity",
    "ActivityAction",
    "Channel",
    "Client",
    "ClientMembership",
    "ConversionPattern",
    "EarlyStatus",
    "Enrollment",
    "EnrollmentState",
    "JourneyEvent",
    "Lead",
    "LeadStatus",
    "ManualTask",
    "MembershipRole",
    "MessageTemplate",
    "PatternType",
    "ScheduledTouch",
    "StopReason",
    "TaskKind",
    "TaskStatus",
    "Tier",
    "TouchStatus",
]
