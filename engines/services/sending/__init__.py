"""Sending: every touch goes out exactly once, through one send path, and what was said is recorded.

Owns the dispatcher (claims due touches, batches provider calls), the outbox
(one touch to its channel), the send path shared by the four channel engines
(gate, check, provider, record), recording sends, rendering templates, send
windows and daily limits, the channel engines (email, SMS, LinkedIn, voice),
manual tasks, unsubscribe links and template previews (a test email to a
person, never a touch). Public names are re-exported by
`engines.services.email`, `sms`, `linkedin`, `voice`, `dispatch`,
`manual_tasks` and `unsubscribe`.
May import: journey, planning, scoring, intake, the pattern store, rules, db,
models and providers. What must happen after a send is recorded (applying
provider statuses that arrived first) is started through
`engines.services.later`.
"""
