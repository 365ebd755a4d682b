"""Exploration: a share of new plans tries alternatives, so learning never locks in.

Once the allocator follows a learned sequence and schedule, every lead gets
it and the detectors can no longer compare alternatives. A share of new
plans (Client.exploration_rate, 0 = off) therefore *explores*: Thompson
sampling draws a conversion rate for every candidate from its Beta
posterior, Beta(1 + successes, 1 + trials - successes), and takes the best
draw: the candidate sequence with the highest draw, and the three days and
three hours with the highest draws, best first.

Candidates and their evidence come from the patterns' arms (HOW "arms",
WHEN "day_arms" / "hour_arms", written by the detectors). The defaults and
what the pattern names are always candidates too; a candidate without
evidence has the flat Beta(1, 1) prior. When a pattern has no arms, the
candidates are the documented sets below with flat priors.

Exploration only chooses preferences: the calendar still skips holidays,
keeps SMS and calls inside legal hours and email and LinkedIn inside the
client's sending window, and the sequence is still fitted to the channels that
can reach the lead, so no compliance rule depends on it. Days and hours are
drawn only among those the sending window allows: a draw of 20:00 would send
the plan's email at its second hour and teach nothing about the first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypedDict, TypeVar

import numpy as np
import numpy.typing as npt

from engines.json_types import JSONObject
from engines.rules.pattern_checks import CHANNELS
from engines.rules.sending_window import SendingWindow
from engines.services.planning.calendar import DEFAULT_BEST_DAYS, DEFAULT_BEST_HOURS, TOP_PREFERENCES
from engines.services.planning.sequence_rules import DEFAULT_SEQUENCE, MAX_PATTERN_TOUCHES, SEPARATOR, strategy

# Sequences tried when the HOW pattern carries no arms: the default, each other channel first, an
# email-only cadence and a phone-heavy one, so every channel gets evidence as an opener.
CANDIDATE_SEQUENCES: tuple[tuple[str, ...], ...] = (
    tuple(DEFAULT_SEQUENCE),
    ("linkedin", "email", "email", "sms", "voice", "email"),
    ("sms", "email", "linkedin", "email", "voice", "email"),
    ("voice", "email", "linkedin", "sms", "email", "email"),
    ("email", "email", "email", "email"),
    ("email", "sms", "voice", "linkedin", "sms", "email"),
)
# Weekdays, when the WHEN pattern carries no day arms.
CANDIDATE_DAYS: tuple[int, ...] = (0, 1, 2, 3, 4)
# Hours of the business day (08:00-17:00 starts), when the WHEN pattern carries no hour arms.
CANDIDATE_HOURS: tuple[int, ...] = tuple(range(8, 18))
# An exploring plan never prefers a night hour, whatever arms a pattern carries.
EXPLORABLE_HOURS = frozenset(range(7, 21))
DRAW_DECIMALS = 4


K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Arm(Generic[K]):
    """A candidate and its evidence: `successes` conversions out of `trials` plans."""

    key: K
    successes: int = 0
    trials: int = 0

    @property
    def label(self) -> str:
        return SEPARATOR.join(self.key) if isinstance(self.key, tuple) else str(self.key)


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def read_arms(entries: object, key_of: Callable[[JSONObject], K | None]) -> list[Arm[K]]:
    """The well-formed arms of a pattern's list; malformed entries are left out, never raised on."""
    if not isinstance(entries, list):
        return []
    arms: dict[K, Arm[K]] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        key = key_of(entry)
        successes, trials = _count(entry.get("successes")), _count(entry.get("trials"))
        if key is None or successes is None or trials is None or successes > trials or key in arms:
            continue
        arms[key] = Arm(key, successes, trials)
    return list(arms.values())


def _sequence_key(entry: JSONObject) -> tuple[str, ...] | None:
    sequence = entry.get("sequence")
    if not isinstance(sequence, list) or not sequence:
        return None
    if not all(isinstance(channel, str) and channel in CHANNELS for channel in sequence):
        return None
    return tuple(sequence[:MAX_PATTERN_TOUCHES])


def _int_key(name: str, allowed: Iterable[int]) -> Callable[[JSONObject], int | None]:
    allowed = frozenset(allowed)

    def key_of(entry: JSONObject) -> int | None:
        value: object = entry.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value in allowed:
            return value
        return None

    return key_of


def with_candidates(arms: list[Arm[K]], candidates: Iterable[K]) -> list[Arm[K]]:
    """`arms` plus every candidate they lack, with a flat prior."""
    known = {arm.key for arm in arms}
    extra = [Arm(key) for key in dict.fromkeys(candidates) if key not in known]
    return arms + extra


def sequence_arms(how: JSONObject | None) -> list[Arm[tuple[str, ...]]]:
    """Candidates: the HOW arms (or CANDIDATE_SEQUENCES), the default, the strategy followed now, the winners."""
    winners = [key for key in map(_sequence_key, _list(how, "winning_sequences")) if key is not None]
    arms = read_arms(how.get("arms") if how else None, _sequence_key)
    fallback = () if arms else CANDIDATE_SEQUENCES
    return with_candidates(arms, [*fallback, tuple(DEFAULT_SEQUENCE), strategy(how), *winners])


def day_arms(when: JSONObject | None, window: SendingWindow | None = None) -> list[Arm[int]]:
    """Candidate days: the WHEN arms (or CANDIDATE_DAYS), the defaults and the named days, on the window's days."""
    allowed = window.days if window else frozenset(range(7))
    key_of = _int_key("day_index", allowed)
    arms = read_arms(when.get("day_arms") if when else None, key_of)
    named = [key_of(entry) for entry in _list(when, "best_days")]
    fallback = () if arms else CANDIDATE_DAYS
    candidates = (*fallback, *DEFAULT_BEST_DAYS, *named)
    return with_candidates(arms, [d for d in candidates if d is not None and d in allowed])


def hour_arms(when: JSONObject | None, window: SendingWindow | None = None) -> list[Arm[int]]:
    """Candidate hours: the WHEN arms (or CANDIDATE_HOURS), the defaults and the named hours, among the explorable
    hours the window allows (its own hours when it allows none of them)."""
    allowed = frozenset(hour for hour in EXPLORABLE_HOURS if window is None or window.allows_hour(hour))
    if window is not None and not allowed:
        allowed = frozenset(range(window.start, window.end))
    key_of = _int_key("hour", allowed)
    arms = read_arms(when.get("hour_arms") if when else None, key_of)
    named = [key_of(entry) for entry in _list(when, "best_hours")]
    fallback = () if arms else CANDIDATE_HOURS
    candidates = (*fallback, *DEFAULT_BEST_HOURS, *named)
    with_window = [hour for hour in candidates if hour is not None and hour in allowed]
    return with_candidates(arms, with_window or sorted(allowed))


def _list(pattern: JSONObject | None, key: str) -> list[JSONObject]:
    value = pattern.get(key) if pattern else None
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


class DrawRecord(TypedDict):
    """One choice of an exploring plan, as stored: the labels chosen, best first, and per arm label
    [successes, trials, draw]."""

    chosen: list[str]
    arms: dict[str, list[float]]


class ExplorationRecord(TypedDict):
    """What an exploring plan drew (ScheduledTouch.exploration): the method and each choice's draws."""

    method: str
    sequence: DrawRecord
    days: DrawRecord
    hours: DrawRecord


class ArmSet(Generic[K]):
    """The candidates of one choice and their Beta posteriors, prepared once for many draws."""

    def __init__(self, arms: Sequence[Arm[K]]):
        self.arms = list(arms)
        self.labels = [arm.label for arm in self.arms]
        self.evidence = [(arm.successes, arm.trials) for arm in self.arms]
        successes = np.array([arm.successes for arm in self.arms], dtype=float)
        trials = np.array([arm.trials for arm in self.arms], dtype=float)
        self.alpha = 1.0 + successes
        self.beta = 1.0 + trials - successes

    def draw(self, rng: np.random.Generator, top: int = 1) -> tuple[list[K], DrawRecord]:
        """Thompson sampling: one draw per arm from Beta(1 + successes, 1 + failures); the `top` best, best first."""
        return self.choose(rng.beta(self.alpha, self.beta), top)

    def choose(self, draws: npt.NDArray[np.float64], top: int) -> tuple[list[K], DrawRecord]:
        """The keys of the `top` arms with the highest `draws`, best first (ties to the earlier arm), and the
        JSON record of the draw: the chosen arms, and every arm's successes, trials and draw."""
        order = np.argsort(-draws, kind="stable")[:top].tolist()
        rounded = np.round(draws, DRAW_DECIMALS).tolist()
        record: DrawRecord = {
            "chosen": [self.labels[i] for i in order],
            "arms": {
                label: [successes, trials, drawn]
                for label, (successes, trials), drawn in zip(self.labels, self.evidence, rounded, strict=True)
            },
        }
        return [self.arms[i].key for i in order], record


@dataclass(frozen=True)
class Exploration:
    """What one exploring plan drew: a sequence, preferred days and hours, and the record of the draws."""

    sequence: tuple[str, ...]
    best_days: tuple[int, ...]
    best_hours: tuple[int, ...]
    record: ExplorationRecord


# Decisions are drawn this many at a time: one numpy call per plan would cost more than the plan's other steps.
# The generator of planners given none, inside seeded_draws (else each planner makes an unseeded one).
_seeded: np.random.Generator | None = None


@contextmanager
def seeded_draws(seed: int) -> Iterator[None]:
    """Within the block, planners given no generator draw from one seeded with `seed`, so a simulation that
    plans through signals and tasks (the demo) explores the same way each time it runs."""
    global _seeded
    saved, _seeded = _seeded, np.random.default_rng(seed)
    try:
        yield
    finally:
        _seeded = saved


DECISION_CHUNK = 1024


class Explorer:
    """Decides, plan by plan, whether to explore and what to try; arms are read once per client."""

    def __init__(
        self,
        rate: float,
        how: JSONObject | None,
        when: JSONObject | None,
        rng: np.random.Generator | None = None,
        window: SendingWindow | None = None,
    ):
        self.rate = rate if isinstance(rate, (int, float)) and 0 < rate <= 1 else 0.0
        self.rng = rng if rng is not None else _seeded if _seeded is not None else np.random.default_rng()
        self.sequences = ArmSet(sequence_arms(how) if self.rate else [])
        self.days = ArmSet(day_arms(when, window) if self.rate else [])
        self.hours = ArmSet(hour_arms(when, window) if self.rate else [])
        self._decisions: list[float] = []
        parts = (self.sequences, self.days, self.hours)
        self._alpha = np.concatenate([part.alpha for part in parts])
        self._beta = np.concatenate([part.beta for part in parts])

    def explores(self) -> bool:
        """Whether the next plan explores: true for `rate` of plans, at random."""
        if not self.rate:
            return False
        if not self._decisions:
            self._decisions = self.rng.random(DECISION_CHUNK).tolist()
        return self._decisions.pop() < self.rate

    def draw(self) -> Exploration | None:
        """An exploration for the next plan, or None when this plan follows the patterns (1 - rate of plans)."""
        if not self.explores():
            return None
        # One Beta call for the three choices: numpy's per-call checks cost more than the draws themselves.
        draws = self.rng.beta(self._alpha, self._beta)
        ends = np.cumsum([len(self.sequences.arms), len(self.days.arms)])
        sequence, sequence_record = self.sequences.choose(draws[: ends[0]], 1)
        days, days_record = self.days.choose(draws[ends[0] : ends[1]], TOP_PREFERENCES)
        hours, hours_record = self.hours.choose(draws[ends[1] :], TOP_PREFERENCES)
        record: ExplorationRecord = {
            "method": "thompson",
            "sequence": sequence_record,
            "days": days_record,
            "hours": hours_record,
        }
        return Exploration(sequence[0], tuple(days), tuple(hours), record)
