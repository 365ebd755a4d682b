from .activity import Activity
from .choices import (
    ActivityAction,
    AuthStatus,
    Channel,
    CheckTrigger,
    EmailThread,
    EnrollmentState,
    LeadStatus,
    MailboxState,
    MailboxStateReason,
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
from .domain_check import DomainCheck
from .early_status import EarlyStatus
from .enrollment import Enrollment, JourneyEvent
from .lead import Lead
from .mailbox import Mailbox, MailboxStateChange
from .manual_task import ManualTask
from .membership import ClientMembership
from .message_template import MessageTemplate
from .scheduled_touch import ScheduledTouch

__all__ = [
    "Activity",
    "ActivityAction",
    "AuthStatus",
    "Channel",
    "CheckTrigger",
    "Client",
    "ClientMembership",
    "ConversionPattern",
    "DomainCheck",
    "EarlyStatus",
    "EmailThread",
    "Enrollment",
    "EnrollmentState",
    "JourneyEvent",
    "Lead",
    "LeadStatus",
    "Mailbox",
    "MailboxState",
    "MailboxStateChange",
    "MailboxStateReason",
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
