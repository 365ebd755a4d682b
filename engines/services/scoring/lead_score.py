"""Lead scoring (ALS, 0-100) with weights learned from WHO patterns.

Five components are scored from the lead (SPEC-16E section 5): data quality,
authority, company fit, timing (each normalised by its maximum and weighted)
and risk (a direct deduction). The weights come from the client's active WHO
pattern, else the client's stored learned weights, else DEFAULT_WEIGHTS.

One vectorised implementation serves both entry points: `score_lead` scores a
batch of one, `score_leads` reads columns in keyset batches and writes each
batch back with a single UPDATE. Both therefore give the same numbers.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

import numpy as np
from django.db.models import QuerySet
from django.utils import timezone

from engines.db.scores import ScoreBatch, write_scores
from engines.json_types import JSONObject
from engines.rules.geography import country_code
from engines.rules.pattern_checks import WEIGHT_KEYS, weights_errors
from engines.services.patterns import load_active_patterns
from outreach.models import Client, Lead, PatternType, Tier
from outreach.models.choices import HOT_MIN_SCORE, WARM_MIN_SCORE

logger = logging.getLogger(__name__)

DEFAULT_WEIGHTS = {
    "data_quality": 0.20,
    "authority": 0.25,
    "company_fit": 0.25,
    "timing": 0.15,
}

COMPONENT_MAX = {
    "data_quality": 20,
    "authority": 25,
    "company_fit": 25,
    "timing": 15,
    "risk": 15,
}

COMPONENT_KEYS = ("data_quality", "authority", "company_fit", "timing", "risk")
SCORE_FIELDS = ("als_score", "als_components", "als_weights_used", "als_weights_source", "scored_at")
# The lead columns the components read, in the order score_leads selects them.
LEAD_COLUMNS = (
    "email",
    "email_verified",
    "phone",
    "phone_verified",
    "linkedin_url",
    "is_personal_email",
    "title",
    "industry",
    "employee_count",
    "country",
    "is_new_role",
    "is_hiring",
    "recently_funded",
    "has_bounced",
    "is_unsubscribed",
    "is_competitor",
    "do_not_contact",
)


class _IcpDefaults(TypedDict):
    industries: list[str]
    employee_min: float
    employee_max: float
    countries: list[str]


DEFAULT_ICP: _IcpDefaults = {"industries": [], "employee_min": 5, "employee_max": 50, "countries": ["Australia"]}
BATCH_SIZE = 5000


def validate_weights(weights: object) -> bool:
    """Four numeric weights, each in [0.05, 0.50], summing to 0.80-0.90."""
    return not weights_errors(weights)


def als_tier(score: int | None) -> str:
    """hot >= HOT_MIN_SCORE (80), warm >= WARM_MIN_SCORE (50), else cool."""
    if score is not None and score >= HOT_MIN_SCORE:
        return Tier.HOT
    if score is not None and score >= WARM_MIN_SCORE:
        return Tier.WARM
    return Tier.COOL


# =============================================================================
# Weights
# =============================================================================


def resolve_weights(client: Client, *, now: datetime | None = None) -> tuple[dict[str, float], str]:
    """The weights to score `client`'s leads with, and where they came from ("pattern", "client", "default").

    An unusable candidate is skipped with a log line, never an exception.
    """
    # load_active_patterns validates the whole WHO pattern, weights included,
    # and logs why it ignores an invalid one.
    pattern = load_active_patterns(client, PatternType.WHO, now=now)
    if pattern is not None:
        return _four_weights(pattern["recommended_weights"]), "pattern"
    learned = client.als_learned_weights
    if learned is not None:
        errors = weights_errors(learned)
        if not errors:
            return _four_weights(learned), "client"
        logger.warning("ignoring invalid learned weights of client %s: %s", client.pk, "; ".join(errors))
    return dict(DEFAULT_WEIGHTS), "default"


def _four_weights(weights: JSONObject) -> dict[str, float]:
    return {key: weights[key] for key in WEIGHT_KEYS}


# =============================================================================
# Authority: whole words, with the abbreviations titles are written with
# =============================================================================


def _words(*phrases: str) -> re.Pattern[str]:
    """Any of `phrases` as whole words (a plural "s" tolerated; an apostrophe belongs to its word)."""
    alternatives = "|".join(r"[\s-]+".join(map(re.escape, phrase.split())) for phrase in phrases)
    return re.compile(rf"(?<![\w'’])(?:{alternatives})s?(?![\w'’])")


_DOTTED_ACRONYM = re.compile(r"\b(?:[a-z]\.){2,}")  # "c.e.o." / "v.p" -> "ceo" / "vp"
_OWNER = _words("owner", "founder", "cofounder", "partner")  # "co-founder" is "co" + "founder"
# Owners of a thing inside someone else's company, not of the company.
_ROLE_OWNER = _words(*(f"{thing} owner" for thing in ("product", "process", "project", "account", "data", "service")))
# "President" alone heads a company (a vice president is the VP rule below), and so
# does a managing director in Australia and the UK.
_C_SUITE = re.compile(
    _words("ceo", "cfo", "cmo", "coo", "cto", "cio", "chief", "managing director").pattern
    + r"|(?<!vice )(?<!vice-)"
    + _words("president").pattern
)
_VP = _words("vp", "svp", "evp", "avp", "vice president")
_DIRECTOR = _words("director", "dir")
_HEAD = _words("head")
_MANAGER = _words("manager", "mgr", "mngr")
_SENIOR = _words("senior", "sr", "snr")


@functools.lru_cache(maxsize=65536)
def authority_points(title: object) -> int:
    """Seniority points of a job title: owner 25, C-suite 22, VP 18, director 15, head 12,
    senior manager 10, manager 7, anything else 5."""
    if not isinstance(title, str):
        return 5
    text = _DOTTED_ACRONYM.sub(lambda m: m.group().replace(".", ""), " ".join(title.split()).lower())
    if _OWNER.search(_ROLE_OWNER.sub(" ", text)):
        return 25
    if _C_SUITE.search(text):
        return 22
    if _VP.search(text):
        return 18
    if _DIRECTOR.search(text):
        return 15
    if _HEAD.search(text):
        return 12
    if _MANAGER.search(text):
        return 10 if _SENIOR.search(text) else 7
    return 5


# =============================================================================
# Company fit: the client's ideal customer profile
# =============================================================================


def _normalised(value: object) -> str:
    return " ".join(value.split()).casefold() if isinstance(value, str) else ""


def _country_key(value: object) -> str:
    """ISO code when the country is known ("AU" for "Australia" or "au"), else the normalised text."""
    text = _normalised(value)
    return (country_code(text) or text) if text else ""


def _text_list(value: object, default: list[str]) -> list[str]:
    if value is None:
        return default
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, (list, tuple)) else []


def _number(value: object, default: float) -> float:
    """A finite number; anything else (a bool, text, NaN, an int too large for a float) is the default."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    try:
        number = float(value)
    except OverflowError:
        return default
    return number if math.isfinite(number) else default


@dataclass(frozen=True)
class Icp:
    """A client's ideal customer profile, normalised once for comparisons."""

    industries: frozenset[str]
    employee_min: float
    employee_max: float
    countries: frozenset[str]

    @classmethod
    def of(cls, client: Client) -> Icp:
        icp = client.icp if isinstance(client.icp, dict) else {}
        return cls(
            industries=frozenset(
                filter(None, map(_normalised, _text_list(icp.get("industries"), DEFAULT_ICP["industries"])))
            ),
            employee_min=_number(icp.get("employee_min"), DEFAULT_ICP["employee_min"]),
            employee_max=_number(icp.get("employee_max"), DEFAULT_ICP["employee_max"]),
            countries=frozenset(
                filter(None, map(_country_key, _text_list(icp.get("countries"), DEFAULT_ICP["countries"])))
            ),
        )

    def industry_points(self, industry: object) -> int:
        return 10 if _normalised(industry) in self.industries else 0

    def country_points(self, country: object) -> int:
        key = _country_key(country)
        return 7 if key and key in self.countries else 0

    def company_fit(
        self, industries: Sequence[object], employee_counts: np.ndarray, countries: Sequence[object]
    ) -> np.ndarray:
        n = len(employee_counts)
        # Points once per distinct value: a batch repeats few industries and countries.
        industry_points = {industry: self.industry_points(industry) for industry in set(industries)}
        country_points = {country: self.country_points(country) for country in set(countries)}
        points = np.fromiter(map(industry_points.__getitem__, industries), np.int64, n)
        points += np.fromiter(map(country_points.__getitem__, countries), np.int64, n)
        known = employee_counts > 0
        in_range = known & (employee_counts >= self.employee_min) & (employee_counts <= self.employee_max)
        points += np.where(in_range, 8, np.where(known & (employee_counts < self.employee_min * 2), 4, 0))
        return np.minimum(points, COMPONENT_MAX["company_fit"])


# =============================================================================
# Components and the weighted formula, over columns of many leads at once
# =============================================================================


def _present(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _count(value: object) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else 0


def _flags(column: Sequence[object]) -> np.ndarray:
    return np.fromiter(map(bool, column), bool, len(column))


def _texts(column: Sequence[object]) -> np.ndarray:
    return np.fromiter(map(_present, column), bool, len(column))


def _components(
    columns: Mapping[str, Sequence[object]], fit: Callable[[np.ndarray], np.ndarray]
) -> dict[str, np.ndarray]:
    """The five components of every lead in `columns` (one sequence per LEAD_COLUMNS name).

    `fit(counts)` returns company fit, given employee counts (0 when unknown).
    None or missing values count as absent.
    """
    n = len(columns["email"])
    email_verified, phone_verified = _flags(columns["email_verified"]), _flags(columns["phone_verified"])
    data_quality = (
        np.where(email_verified, 8, np.where(_texts(columns["email"]), 4, 0))
        + np.where(phone_verified, 6, np.where(_texts(columns["phone"]), 3, 0))
        + np.where(_texts(columns["linkedin_url"]), 4, 0)
        + np.where(_flags(columns["is_personal_email"]), 2, 0)
    )
    timing = (
        np.where(_flags(columns["is_new_role"]), 6, 0)
        + np.where(_flags(columns["is_hiring"]), 5, 0)
        + np.where(_flags(columns["recently_funded"]), 4, 0)
    )
    risk = (
        np.where(_flags(columns["has_bounced"]), 15, 0)
        + np.where(_flags(columns["is_unsubscribed"]), 15, 0)
        + np.where(_flags(columns["is_competitor"]), 10, 0)
        + np.where(_flags(columns["do_not_contact"]), 50, 0)
    )
    counts = np.fromiter(map(_count, columns["employee_count"]), np.float64, n)
    return {
        "data_quality": np.minimum(data_quality, COMPONENT_MAX["data_quality"]),
        "authority": np.fromiter(map(authority_points, columns["title"]), np.int64, n),
        "company_fit": fit(counts),
        "timing": np.minimum(timing, COMPONENT_MAX["timing"]),
        "risk": np.minimum(risk, COMPONENT_MAX["risk"]),
    }


def _weighted_scores(components: Mapping[str, np.ndarray], weights: Mapping[str, float | np.ndarray]) -> np.ndarray:
    """The spec's formula: each component / its max * weight * 100, minus risk, clamped to 0-100.

    `weights` values are floats or per-lead arrays. The sum is rounded to 9
    decimals before truncation so that a mathematically whole 16 computed as
    15.999999999999998 stays 16.
    """
    raw = (
        (components["data_quality"] / COMPONENT_MAX["data_quality"]) * weights["data_quality"] * 100
        + (components["authority"] / COMPONENT_MAX["authority"]) * weights["authority"] * 100
        + (components["company_fit"] / COMPONENT_MAX["company_fit"]) * weights["company_fit"] * 100
        + (components["timing"] / COMPONENT_MAX["timing"]) * weights["timing"] * 100
        - components["risk"]
    )
    scores: np.ndarray = np.clip(np.floor(np.round(raw, 9)), 0, 100).astype(np.int64)
    return scores


def explain_score(components: JSONObject, weights: JSONObject) -> JSONObject:
    """How a stored score came about, from a lead's `als_components` and `als_weights_used`.

    Returns {"components": {name: {"points", "max", "weight", "contribution"}},
    "total" (the unclamped sum of contributions), "score" (what score_lead stored)}.
    Risk has no weight: its contribution is minus its points.
    """
    values = {key: np.array([components.get(key) or 0]) for key in COMPONENT_KEYS}
    explained = {}
    for key in COMPONENT_KEYS:
        points = values[key][0].item()
        if key == "risk":
            explained[key] = {"points": points, "max": COMPONENT_MAX[key], "weight": None, "contribution": -points}
        else:
            contribution = points / COMPONENT_MAX[key] * weights[key] * 100
            explained[key] = {
                "points": points,
                "max": COMPONENT_MAX[key],
                "weight": weights[key],
                "contribution": contribution,
            }
    return {
        "components": explained,
        "total": sum(item["contribution"] for item in explained.values()),
        "score": int(_weighted_scores(values, weights)[0]),
    }


# =============================================================================
# One lead
# =============================================================================


def score_lead(lead: Lead, client: Client | None = None, *, now: datetime | None = None) -> int:
    """Score `lead` for `client` (its own client when None), store the score and its explanation, return it.

    Sets and saves (one UPDATE) als_score, als_components (the five components
    and "scored_at"), als_weights_used, als_weights_source and scored_at.
    """
    if client is None:
        client = lead.client
    elif client.pk != lead.client_id:
        raise ValueError(f"lead {lead.pk} belongs to client {lead.client_id}, not {client.pk}")
    now = now or timezone.now()
    weights, source = resolve_weights(client, now=now)
    icp = Icp.of(client)
    columns = {name: [getattr(lead, name, None)] for name in LEAD_COLUMNS}
    components = _components(columns, lambda counts: icp.company_fit(columns["industry"], counts, columns["country"]))
    score = int(_weighted_scores(components, weights)[0])

    lead.als_components = {key: int(values[0]) for key, values in components.items()}
    lead.als_components["scored_at"] = now.isoformat()
    lead.als_weights_used = weights
    lead.als_weights_source = source
    lead.scored_at = now
    lead.als_score = score
    lead.save(update_fields=SCORE_FIELDS)
    return score


# =============================================================================
# Many leads
# =============================================================================


@dataclass(frozen=True)
class _ClientScoring:
    icp: Icp
    weights: dict[str, float]
    source: str


def score_leads(
    leads: QuerySet[Lead],
    *,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Score every lead of the queryset, as score_lead would; return how many were scored.

    Reads the needed columns in primary-key batches, computes the components of
    a whole batch with numpy, and writes the batch back in one UPDATE. Weights
    are resolved once per client. `progress(n)` is called after each batch.
    Bulk writes fire no signals: scoring here plans nothing (score_lead's save
    does); callers plan explicitly, as engines.services.journey.triggers.rescore_client does.
    """
    now = now or timezone.now()
    if leads.query.is_sliced:
        leads = Lead.objects.filter(pk__in=leads.values("pk"))
    source = leads.order_by("pk").values_list("pk", "client_id", *LEAD_COLUMNS)
    clients: dict[int, _ClientScoring] = {}
    scored, last_pk = 0, None
    while True:
        batch = source if last_pk is None else source.filter(pk__gt=last_pk)
        rows = list(batch[:batch_size])
        if not rows:
            return scored
        last_pk = rows[-1][0]
        pks, client_ids, *values = zip(*rows, strict=True)
        _add_clients(clients, set(client_ids) - clients.keys(), now)
        # The batch's clients, and each row's position among them.
        batch_client_ids, client_of_row = np.unique(np.fromiter(client_ids, np.int64, len(rows)), return_inverse=True)
        batch_clients = [clients[client_id] for client_id in batch_client_ids.tolist()]
        columns = dict(zip(LEAD_COLUMNS, values, strict=True))
        fit = functools.partial(_company_fit, columns, client_of_row=client_of_row, clients=batch_clients)
        components = _components(columns, fit)
        weights = {key: np.array([c.weights[key] for c in batch_clients])[client_of_row] for key in WEIGHT_KEYS}
        scores = _weighted_scores(components, weights)
        scored += _write(leads.db, pks, client_of_row, scores, components, batch_clients, now)
        if progress is not None:
            progress(len(rows))


def _add_clients(clients: dict[int, _ClientScoring], client_ids: Iterable[int], now: datetime) -> None:
    for client in Client.objects.filter(pk__in=list(client_ids)):
        weights, source = resolve_weights(client, now=now)
        clients[client.pk] = _ClientScoring(Icp.of(client), weights, source)


def _company_fit(
    columns: Mapping[str, Sequence[object]],
    counts: np.ndarray,
    client_of_row: np.ndarray,
    clients: list[_ClientScoring],
) -> np.ndarray:
    fit = np.zeros(len(counts), np.int64)
    industries = np.array(columns["industry"], dtype=object)
    countries = np.array(columns["country"], dtype=object)
    for i, scoring in enumerate(clients):
        rows = client_of_row == i
        fit[rows] = scoring.icp.company_fit(industries[rows], counts[rows], countries[rows])
    return fit


def _write(
    alias: str,
    pks: Sequence[int],
    client_of_row: np.ndarray,
    scores: np.ndarray,
    components: dict[str, np.ndarray],
    clients: list[_ClientScoring],
    now: datetime,
) -> int:
    """Store the batch's scores with one UPDATE (engines.db.scores); how many leads were updated."""
    batch = ScoreBatch(
        pks=pks,
        scores=scores,
        components={key: components[key] for key in COMPONENT_KEYS},
        client_of_row=client_of_row,
        weights=[scoring.weights for scoring in clients],
        sources=[scoring.source for scoring in clients],
        now=now,
    )
    return write_scores(batch, using=alias)
