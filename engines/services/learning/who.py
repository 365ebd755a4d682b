"""WHO: which leads convert, and the scorer weights that would have ranked them best.

Unit: a finished lead (converted, or finished without converting; see
evidence). Rates by seniority (read from the authority points the scorer
stored), industry, company-size band and timing signal, each smoothed toward
the client's conversion rate, with its lift over that rate.

`recommended_weights`: the weights in use (the scorer's, resolve_weights)
moved toward weights learned from the older finished leads only as far as the
uncertainty of the regression allows (weights.py). The most recent finished
leads (HOLDOUT_SHARE of them, by first touch) are held out. The pattern is
activated only when the components credibly rank leads at all (`confidence`
above 0) and its weights rank the held-out leads better than the weights in
use (a higher AUC); otherwise it is stored for the record, not used and not
shown as active, `activation.reason` says why, and the client's fallback
weights are left alone. `confidence` is the strength of the evidence that the
components that vary among the leads rank them (0 unless credible);
`model.shrinkage_toward_learned` says how far the weights moved.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from django.db.models import FloatField, IntegerField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from engines.db.columns import fetch_columns
from engines.json_types import JSONObject
from engines.rules.pattern_checks import WEIGHT_KEYS
from engines.services.learning.evidence import (
    CONVERTED,
    IN_FLIGHT,
    MIN_EVENTS,
    MIN_UNITS,
    OUTCOME_BOOKING,
    Evidence,
    require,
    require_events,
)
from engines.services.learning.registry import register
from engines.services.learning.stats import MIN_BUCKET, group, rate, smoothed_rate
from engines.services.learning.weights import (
    AucComparison,
    blend,
    compare_auc,
    deviation_statistic,
    fit_logistic,
    ranking_evidence,
    shrinkage,
    varying,
    weights_from_coefficients,
)
from engines.services.scoring.lead_score import COMPONENT_MAX, resolve_weights
from outreach.models import Client, ConversionPattern, Lead, PatternType

HOLDOUT_SHARE = 0.25
# The held-out leads must hold this many conversions and non-conversions to compare two rankings.
MIN_HOLDOUT_EVENTS = 5
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


def keep_fallback_weights(client: Client, pattern: ConversionPattern) -> None:
    """An activated pattern's weights become the client's own, which the scorer falls back to once it expires."""
    if pattern.activated:
        Client.objects.filter(pk=client.pk).update(als_learned_weights=pattern.patterns["recommended_weights"])


@register(PatternType.WHO, after_save=keep_fallback_weights)
def learn(evidence: Evidence) -> JSONObject:
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
    require(
        min(int(converted[scored].sum()), int((~converted[scored]).sum())) >= MIN_EVENTS,
        "too few scored leads on one side of the outcome",
    )
    model = _model(evidence, components[scored], converted[scored], evidence.lead_first_at[finished][scored])
    recommended, activation = model.pop("recommended_weights"), model.pop("activation")
    return {
        "recommended_weights": recommended,
        "conversion_rate_by": _conversion_rates(leads, converted, base),
        "model": model,
        "activation": activation,
        "base_rate": rate(base),
        "conversions": int(converted.sum()),
        "outcome": OUTCOME_BOOKING,
        "unit": "leads",
        "window_days": evidence.window_days,
        "sample_size": int(finished.sum()),
        "confidence": model.pop("ranking_evidence"),
    }


def _model(evidence: Evidence, x: np.ndarray, converted: np.ndarray, first_at: np.ndarray) -> JSONObject:
    """Learn on the older leads, check on the most recent ones (a time split)."""
    order = np.argsort(first_at, kind="stable")
    holdout = np.zeros(len(x), dtype=bool)
    holdout[order[len(x) - int(round(len(x) * HOLDOUT_SHARE)) :]] = True
    held_conversions = int(converted[holdout].sum())
    require(
        min(held_conversions, int((~converted[holdout]).sum())) >= MIN_HOLDOUT_EVENTS,
        f"only {held_conversions} conversions among the {int(holdout.sum())} most recent finished leads "
        f"(need {MIN_HOLDOUT_EVENTS} to check new weights against the weights in use)",
    )
    train = ~holdout
    require(int(converted[train].sum()) >= MIN_EVENTS // 2, "too few conversions among the older finished leads")
    current, source = resolve_weights(evidence.client, now=evidence.now)
    current_vector = np.array([current[key] for key in WEIGHT_KEYS])
    fit = fit_logistic(x[train], converted[train])
    informative = varying(x[train])
    learned = weights_from_coefficients(fit.coefficients, fallback=current)
    statistic, degrees = deviation_statistic(fit, current_vector, informative)
    share = round(shrinkage(statistic, degrees), 3)
    recommended = blend(current, learned, share)
    check = compare_auc(
        x[holdout], converted[holdout], np.array([recommended[key] for key in WEIGHT_KEYS]), current_vector
    )
    evidence_strength = ranking_evidence(fit, informative)
    return {
        "recommended_weights": recommended,
        "kind": "logistic regression on component / COMPONENT_MAX, L2; shrunk toward the weights in use",
        "intercept": round(fit.intercept, 4),
        "coefficients": {key: round(float(c), 4) for key, c in zip(WEIGHT_KEYS, fit.coefficients, strict=True)},
        "standard_errors": {key: round(float(s), 4) for key, s in zip(WEIGHT_KEYS, fit.standard_errors, strict=True)},
        "learned_weights": {key: round(learned[key], 3) for key in WEIGHT_KEYS},
        "weights_in_use": {key: float(current[key]) for key in WEIGHT_KEYS},
        "weights_in_use_source": source,
        "varying_components": [key for key, varies in zip(WEIGHT_KEYS, informative, strict=True) if varies],
        "deviation_statistic": round(statistic, 3),
        "deviation_degrees_of_freedom": degrees,
        "shrinkage_toward_learned": share,
        "ranking_evidence": evidence_strength,
        "leads": int(train.sum()),
        "activation": _activation(check, evidence_strength),
    }


def _activation(check: AucComparison, evidence_strength: float) -> JSONObject:
    """Whether the pattern is put to use, and why (or why not), in words the admin shows."""
    better = check.auc_new > check.auc_current
    if evidence_strength <= 0:
        reason = "the scoring components do not credibly rank these leads (confidence 0): the weights in use stay"
    else:
        reason = (
            f"its weights rank the {check.leads} most recent finished leads {'better' if better else 'no better'} "
            f"than the weights in use: AUC {check.auc_new:.3f} against {check.auc_current:.3f} "
            f"(difference interval {check.low:+.3f} to {check.high:+.3f})"
        )
    return {
        "auc_new": round(check.auc_new, 4),
        "auc_current": round(check.auc_current, 4),
        "interval": [round(check.low, 4), round(check.high, 4)],
        "leads": check.leads,
        "activated": evidence_strength > 0 and better,
        "reason": reason,
    }


def _lead_columns(evidence: Evidence, lead_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The finished leads' stored components and attributes, aligned with `lead_ids` (sorted)."""

    def component(key: str) -> Cast:
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


def _conversion_rates(
    leads: dict[str, np.ndarray], converted: np.ndarray, base: float
) -> dict[str, dict[str, RateEntry]]:
    return {
        "seniority": _rates(_seniority(leads["authority"]), converted, base),
        "industry": _rates(_industry(leads["industry"]), converted, base),
        "company_size": _rates(_size_band(leads["employees"]), converted, base),
        "timing_signal": _signal_rates(leads, converted, base),
    }


def _rates(labels: np.ndarray, converted: np.ndarray, base: float) -> dict[str, RateEntry]:
    """Per label (empty = unknown, left out): smoothed rate, lift, size; labels below MIN_BUCKET left out.

    Labels compare case-insensitively; each is shown as first spelled.
    """
    groups = group(np.asarray([label.casefold() for label in labels], dtype=object), converted)
    smoothed = groups.smoothed(base)
    assert groups.first is not None
    return {
        labels[groups.first[i]]: _entry(smoothed[i], groups.positives[i], groups.totals[i], base)
        for i in groups.big_enough()
        if groups.keys[i]
    }


def _signal_rates(leads: dict[str, np.ndarray], converted: np.ndarray, base: float) -> dict[str, RateEntry]:
    signals = np.column_stack(
        [leads[signal] for signal in TIMING_SIGNALS] + [~np.any([leads[s] for s in TIMING_SIGNALS], axis=0)]
    )
    names = (*TIMING_SIGNALS, "none")
    totals, positives = signals.sum(axis=0), (signals & converted[:, None]).sum(axis=0)
    smoothed = smoothed_rate(positives, totals, base)
    return {
        name: _entry(smoothed[i], positives[i], totals[i], base)
        for i, name in enumerate(names)
        if totals[i] >= MIN_BUCKET
    }


class RateEntry(TypedDict):
    """A label's conversion: the smoothed rate, its lift over the client's rate, units and conversions."""

    conversion_rate: float
    lift: float
    sample_size: int
    conversions: int


def _entry(smoothed: float, positives: float, total: float, base: float) -> RateEntry:
    return {
        "conversion_rate": rate(smoothed),
        "lift": round(float(smoothed / base), 3),
        "sample_size": int(total),
        "conversions": int(positives),
    }
