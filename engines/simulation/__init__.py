"""Synthetic agency data and the demo: test and demo material, not business logic."""
