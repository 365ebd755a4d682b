"""Intake, the first stage: leads come in from spreadsheets, checked and normalized.

Owns lead import (read a file, preview every row, write all or nothing).
May import: rules, db, models. The later work an import starts (scoring and
planning the new leads) goes through `engines.services.later`, never a
direct import of a later stage.
"""
