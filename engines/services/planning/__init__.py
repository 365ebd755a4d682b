"""Planning a lead's sequence, one concern per module.

- `sequence_rules`: which channels, in which order (HOW), and which leads may be planned at all.
- `calendar`: when each touch goes (WHEN): local days and hours, holidays, legal hours, DST.
- `exploration`: Thompson sampling over candidate sequences, days and hours for a share of new plans.
- `plan`: the plan of one lead, as the allocator returns and saves it.
- `touch_writer`: saving plans (COPY on PostgreSQL), live-plan checks and re-plan cancellation.

`engines.services.planning.allocator` composes them and keeps the public names (allocate_lead, allocate_leads,
DEFAULT_SEQUENCE, DEFAULT_GAPS, DEFAULT_BEST_DAYS, DEFAULT_BEST_HOURS).
"""
