"""Outcomes: what providers and people report back, each stored once and linked to the touch it answers.

Owns recording provider events (deliveries, opens, bounces, complaints,
opt-outs, replies, bookings), reading what a reply says, SMS statuses that
arrive before their send is recorded, and a dialer's call statuses.
May import: sending, journey, planning, scoring, intake, the pattern store,
rules, db, models. Never learning, the admin, webhooks or tasks.
"""
