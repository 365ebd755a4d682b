"""WHO: which leads convert, and the scorer weights that would have ranked them best.

Unit: a finished lead (converted, or finished without converting; see
common). Rates by seniority (read from the authority points the scorer stored),
industry, company-size band and timing signal, each smoothed toward the
client's conversion rate, with its lift over that rate.

`recommended_weights` come from an L2-regularised logistic regression (Newton
steps in numpy) of conversion on the four components stored when each lead
was scored, each divided by its COMPONENT_MAX. The positive coefficients are
made proportional weights summing to 0.85, projected into [0.05, 0.50], then
shrunk toward DEFAULT_WEIGHTS by the confidence: with little evidence the
weights stay near the defaults and move away only as conversions accumulate.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from django.db.models import FloatField, IntegerField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from engines.services.detectors.common import (
    CONVERTED,
    IN_FLIGHT,
    MIN_BUCKET,
    MIN_EVENTS,
    MIN_UNITS,
    OUTCOME_BOOKING,
    VALID_DAYS,
    WINDOW_DAYS,
    DetectionResult,
    Evidence,
    confidence,
    fetch_columns,
    rate,
    require,
    require_events,
    run_detector,
    smoothed_rate,
)
from engines.services.patterns import WEIGHT_KEYS, WEIGHT_MAX, WEIGHT_MIN
from engines.services.scorer import COMPONENT_MAX, DEFAULT_WEIGHTS
from outreach.models import Client, Lead, PatternType

WEIGHT_TOTAL = 0.85
L2_PENALTY = 1.0
# Authority points the scorer gives each seniority, highest first.
SENIORITY_BY_AUTHORITY = (
    (25, "owner"),
    (22, "c_suite"),
    (18, "vp"),
    (15, "director"),
    (12, "head"),
    (10, "senior_manager"),
    (7, "manager"),
    (0, "other"),
)
SIZE_BANDS = ((1, 10), (11, 50), (51, 200), (201, 1000), (1001, None))
TIMING_SIGNALS = ("is_new_role", "is_hiring", "recently_funded")


def detect_who(
    client: Client,
    *,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    valid_days: int = VALID_DAYS,
    evidence: Evidence | None = None,
) -> DetectionResult:
    """Learn and save the client's WHO pattern; nothing is saved without enough finished leads and conversions.

    The saved weights also become the client's own learned weights, which the
    scorer falls back to once the pattern expires (if nightly detection stops).
    """
    result = run_detector(
        PatternType.WHO, _learn, client, now=now, window_days=window_days, valid_days=valid_days, evidence=evidence
    )
    if result.saved:
        Client.objects.filter(pk=client.pk).update(als_learned_weights=result.pattern.patterns["recommended_weights"])
    return result


def _learn(evidence: Evidence) -> dict:
    finished = evidence.lead_state != IN_FLIGHT
    converted = evidence.lead_state[finished] == CONVERTED
    require_events(int(finished.sum()), int(converted.sum()), unit="leads", event="conversions")
    require(
        int((~converted).sum()) >= MIN_EVENTS,
        f"only {int((~converted).sum())} finished leads did not convert (need {MIN_EVENTS})",
    )
    leads = _lead_columns(evidence, evidence.lead_ids[finished])
    base = float(converted.mean())

    components = np.column_stack([leads[key] / COMPONENT_MAX[key] for key in WEIGHT_KEYS])
    scored = np.isfinite(components).all(axis=1)
    require(
        int(scored.sum()) >= MIN_UNITS,
        f"only {int(scored.sum())} finished leads carry scoring components (need {MIN_UNITS})",
    )
    scored_conversions = int(converted[scored].sum())
    require(
        min(scored_conversions, int((~converted[scored]).sum())) >= MIN_EVENTS,
        "too few scored leads on one side of the outcome",
    )
    intercept, coefficients = fit_logistic(components[scored], converted[scored])
    learned = weights_from_coefficients(coefficients)
    strength = confidence(scored_conversions)
    recommended = {
        key: round(strength * learned[key] + (1 - strength) * DEFAULT_WEIGHTS[key], 3) for key in WEIGHT_KEYS
    }
    return {
        "recommended_weights": recommended,
        "conversion_rate_by": {
            "seniority": _rates(_seniority(leads["authority"]), converted, base),
            "industry": _rates(_industry(leads["industry"]), converted, base),
            "company_size": _rates(_size_band(leads["employees"]), converted, base),
            "timing_signal": _signal_rates(leads, converted, base),
        },
        "model": {
            "kind": "logistic regression on component / COMPONENT_MAX, L2",
            "intercept": round(float(intercept), 4),
            "coefficients": {key: round(float(c), 4) for key, c in zip(WEIGHT_KEYS, coefficients)},
            "learned_weights": {key: round(learned[key], 3) for key in WEIGHT_KEYS},
            "shrinkage_toward_learned": strength,
            "leads": int(scored.sum()),
        },
        "base_rate": rate(base),
        "conversions": int(converted.sum()),
        "outcome": OUTCOME_BOOKING,
        "unit": "leads",
        "window_days": evidence.window_days,
        "sample_size": int(finished.sum()),
        "confidence": strength,
    }


def _lead_columns(evidence: Evidence, lead_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The finished leads' stored components and attributes, aligned with `lead_ids` (sorted)."""

    def component(key: str):
        return Cast(KeyTextTransform(key, "als_components"), FloatField())

    raw = fetch_columns(
        Lead.objects.filter(client=evidence.client, pk__in=evidence.sent_in_window().values("lead_id")),
        {
            "id": "id",
            **{key: component(key) for key in WEIGHT_KEYS},
            "industry": "industry",
            "employees": Coalesce("employee_count", Value(-1), output_field=IntegerField()),
            **{signal: signal for signal in TIMING_SIGNALS},
        },
    )
    ids = np.asarray(raw.pop("id"), dtype=np.int64)
    order = np.argsort(ids)
    position = order[np.searchsorted(ids, lead_ids, sorter=order)]
    columns = {}
    for name, values in raw.items():
        dtype = object if name == "industry" else (bool if name in TIMING_SIGNALS else float)
        columns[name] = np.asarray(values, dtype=dtype)[position]
    return columns


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2_PENALTY, steps: int = 50) -> tuple[float, np.ndarray]:
    """Intercept and coefficients of P(y) = sigmoid(b0 + x @ b), the coefficients L2-penalised (Newton's method)."""
    design = np.column_stack([np.ones(len(x)), x])
    target = y.astype(float)
    penalty = np.diag([0.0] + [l2] * x.shape[1])
    beta = np.zeros(design.shape[1])
    beta[0] = np.log(max(target.mean(), 1e-6) / max(1 - target.mean(), 1e-6))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(design @ beta)))
        gradient = design.T @ (target - p) - penalty @ beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    return float(beta[0]), beta[1:]


def weights_from_coefficients(coefficients: np.ndarray) -> dict[str, float]:
    """Weights proportional to the positive coefficients, projected onto [0.05, 0.50] with a total of 0.85.

    A component that does not help (coefficient <= 0) gets the minimum weight;
    when none helps, the defaults stand.
    """
    positive = np.clip(np.asarray(coefficients, dtype=float), 0, None)
    if positive.sum() <= 0:
        return dict(DEFAULT_WEIGHTS)
    target = WEIGHT_TOTAL * positive / positive.sum()
    # Euclidean projection onto the box and the total: clip(target - shift), the shift found by bisection.
    low, high = target.min() - WEIGHT_MAX, target.max() - WEIGHT_MIN
    for _ in range(100):
        shift = (low + high) / 2
        if np.clip(target - shift, WEIGHT_MIN, WEIGHT_MAX).sum() > WEIGHT_TOTAL:
            low = shift
        else:
            high = shift
    weights = np.clip(target - (low + high) / 2, WEIGHT_MIN, WEIGHT_MAX)
    return {key: float(w) for key, w in zip(WEIGHT_KEYS, weights)}


def _seniority(authority: np.ndarray) -> np.ndarray:
    labels = np.full(len(authority), "", dtype=object)
    for points, label in reversed(SENIORITY_BY_AUTHORITY):
        labels[np.nan_to_num(authority, nan=-1) >= points] = label
    return labels


def _industry(industries: np.ndarray) -> np.ndarray:
    return np.asarray([" ".join(industry.split()) for industry in industries], dtype=object)


def _size_band(employees: np.ndarray) -> np.ndarray:
    labels = np.full(len(employees), "", dtype=object)
    for low, high in SIZE_BANDS:
        inside = (employees >= low) & ((employees <= high) if high else True)
        labels[inside] = f"{low}-{high}" if high else f"{low}+"
    return labels


def _rates(labels: np.ndarray, converted: np.ndarray, base: float) -> dict[str, dict]:
    """Per label (empty = unknown, left out): smoothed rate, lift, size; labels below MIN_BUCKET left out.

    Labels compare case-insensitively; each is shown as first spelled.
    """
    keys = np.asarray([label.casefold() for label in labels], dtype=object)
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    totals = np.bincount(inverse, minlength=len(unique))
    positives = np.bincount(inverse, weights=converted, minlength=len(unique))
    smoothed = smoothed_rate(positives, totals, base)
    return {
        labels[first[i]]: _entry(smoothed[i], positives[i], totals[i], base)
        for i in np.flatnonzero(totals >= MIN_BUCKET)
        if unique[i]
    }


def _signal_rates(leads: dict[str, np.ndarray], converted: np.ndarray, base: float) -> dict[str, dict]:
    groups = {signal: leads[signal] for signal in TIMING_SIGNALS}
    groups["none"] = ~np.any([leads[signal] for signal in TIMING_SIGNALS], axis=0)
    out = {}
    for name, members in groups.items():
        total, positives = int(members.sum()), int(converted[members].sum())
        if total >= MIN_BUCKET:
            out[name] = _entry(smoothed_rate(positives, total, base), positives, total, base)
    return out


def _entry(smoothed: float, positives: float, total: float, base: float) -> dict:
    return {
        "conversion_rate": rate(smoothed),
        "lift": round(float(smoothed / base), 3),
        "sample_size": int(total),
        "conversions": int(positives),
    }
