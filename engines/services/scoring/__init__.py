"""Scoring: each lead's ALS score (0-100) and its explanation, from weights learned by WHO patterns.

Owns the scorer (components, weights, tiers, bulk scoring). The public names
are re-exported by `engines.services.scorer`.
May import: the pattern store (`engines.services.patterns`), rules, db, models.
"""
