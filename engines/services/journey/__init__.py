"""The journey: a lead's contact state and sequence, what stops it and what a saved lead sets in motion.

Owns stopping contact (contact.stop_contact, the one function every stop goes through: the lead's flag, its
unsent touches per channel or all, its enrollment, with one StopReason),
a person's changes to a journey (actions: pause, resume, stop, re-enrol,
do-not-contact and its undo, opt-out and opt-in, each recorded as a JourneyEvent),
the company-level stop (colleagues: one person's answer pauses their colleagues),
what a call outcome teaches about a phone, and the triggers behind the model
signals (score a new lead, plan it, cancel what a stop forbids, rescore or
re-plan a client after new patterns).
May import: planning, scoring, intake, the pattern store, rules, db, models.
Work that runs later (a task) is started through `engines.services.later`.
"""
