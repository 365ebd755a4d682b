"""How sure a rate is: the Wilson score interval of a proportion (successes of trials)."""

from __future__ import annotations

import math

# The normal quantiles the product uses: two-sided 95%, and one-sided 95% (a rate credibly above a limit).
Z_95_TWO_SIDED = 1.96
Z_95_ONE_SIDED = 1.645


def wilson_interval(successes: int, trials: int, z: float = Z_95_TWO_SIDED) -> tuple[float, float]:
    """The Wilson score interval of `successes` / `trials` at normal quantile `z`; (0, 0) without trials. Unlike
    the rate plus or minus its standard error, it stays within [0, 1] and is honest for a few events in many
    trials (hard bounces in a mailbox's sends, bookings in a cohort)."""
    if trials <= 0:
        return 0.0, 0.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)
