"""django-q2 entry points: take ids, re-fetch, return early when nothing is left, call one service."""
