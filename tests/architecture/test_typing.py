"""engines/ stays strictly typed: mypy's strict flags stay on for it, and `Any` does not spread there.

`Any` turns type checking off for whatever holds it. In engines/ it stands for JSON whose shape is
not ours to check (engines.json_types.JSONObject: what a provider sends, what a JSONField holds,
pattern data before its schema validates it) and for the few values whose type depends on run-time
configuration; everything else has a real type. The budgets below are the counts today: a change
that needs more `Any` should type the value instead (a TypedDict or dataclass for a known shape,
`object` for a value only passed on or checked with isinstance, JSONValue for JSON we build).
When the count goes down, lower the budget with it.
"""

from __future__ import annotations

import tokenize
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ROOT / "engines"

# The word `Any` used as a name in engines/**/*.py (imports included; comments and docstrings are not names).
ANY_BUDGET = 42
# Uses of the aliases that stand for `Any` (engines.json_types.JSONObject, send_path.ProviderHandle), so that
# swapping `Any` for an alias does not get past the budget above.
ANY_ALIAS_BUDGET = 73
ANY_ALIASES = frozenset({"JSONObject", "ProviderHandle"})

# What `strict = true` turns on, less what mypy sets only globally (warn_unused_configs, warn_redundant_casts,
# strict_bytes): in a per-module section `strict = true` would make every module strict, so each flag is listed.
STRICT_FLAGS = (
    "disallow_untyped_defs",
    "disallow_incomplete_defs",
    "disallow_untyped_calls",
    "disallow_any_generics",
    "disallow_subclassing_any",
    "disallow_untyped_decorators",
    "check_untyped_defs",
    "warn_return_any",
    "warn_unused_ignores",
    "no_implicit_reexport",
    "strict_equality",
    "extra_checks",
)
# Settings that would switch checks off again for some of engines/.
RELAXING = ("ignore_errors", "disable_error_code", "ignore_missing_imports", "follow_imports", "allow_untyped_defs")


def names_in(path: Path, wanted: frozenset[str]) -> Counter[str]:
    """How often each of `wanted` occurs as a name (not in a comment or string) in the Python file at `path`."""
    with path.open("rb") as source:
        return Counter(
            token.string
            for token in tokenize.tokenize(source.readline)
            if token.type == tokenize.NAME and token.string in wanted
        )


def count_in_engines(wanted: frozenset[str]) -> dict[str, int]:
    """Per file of engines/ (relative path), how many of `wanted` it names; files naming none are left out."""
    counts = {}
    for path in sorted(ENGINES.rglob("*.py")):
        found = sum(names_in(path, wanted).values())
        if found:
            counts[str(path.relative_to(ROOT))] = found
    return counts


def _report(counts: dict[str, int]) -> str:
    return "\n".join(f"  {count:3d}  {path}" for path, count in sorted(counts.items(), key=lambda item: -item[1]))


def test_any_does_not_spread_in_engines() -> None:
    counts = count_in_engines(frozenset({"Any"}))
    total = sum(counts.values())
    assert total <= ANY_BUDGET, (
        f"engines/ names `Any` {total} times, over the budget of {ANY_BUDGET}. Type the value instead of raising "
        "the budget: a TypedDict or dataclass for a known shape, `object` for a value only passed on or checked, "
        "engines.json_types.JSONValue for JSON we build (JSONObject only for JSON from outside).\n" + _report(counts)
    )


def test_the_aliases_of_any_do_not_spread_in_engines() -> None:
    counts = count_in_engines(ANY_ALIASES)
    total = sum(counts.values())
    assert total <= ANY_ALIAS_BUDGET, (
        f"engines/ uses {', '.join(sorted(ANY_ALIASES))} {total} times, over the budget of {ANY_ALIAS_BUDGET}. "
        "They are `Any` under another name: give the value its type instead of raising the budget "
        "(JSONObject is for JSON from a provider or a JSONField, read with isinstance or validated).\n"
        + _report(counts)
    )


def test_the_count_is_of_names_not_of_words(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        'from typing import Any\n\n\ndef f(x: Any) -> "Any":\n    """Any docstring."""\n    return x  # Any\n',
        encoding="utf-8",
    )
    assert names_in(source, frozenset({"Any"})) == Counter({"Any": 2})


def _mypy_config() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as config:
        mypy: dict[str, object] = tomllib.load(config)["tool"]["mypy"]
    return mypy


def _modules(override: dict[str, object]) -> list[str]:
    module = override["module"]
    if isinstance(module, str):
        return [module]
    assert isinstance(module, list)
    return [str(name) for name in module]


def _overrides() -> list[dict[str, object]]:
    overrides = _mypy_config().get("overrides", [])
    assert isinstance(overrides, list)
    return overrides


def test_mypy_is_strict_for_engines() -> None:
    strict = [override for override in _overrides() if "engines.*" in _modules(override)]
    assert len(strict) == 1, "pyproject.toml has one [[tool.mypy.overrides]] for module engines.*, the strict one"
    relaxed = [flag for flag in STRICT_FLAGS if strict[0].get(flag) is not True]
    assert not relaxed, f"mypy must stay strict for engines/: set {', '.join(relaxed)} = true for engines.*"


def test_nothing_relaxes_mypy_for_part_of_engines() -> None:
    for override in _overrides():
        modules = [m for m in _modules(override) if m == "engines" or m.startswith("engines.")]
        if not modules:
            continue
        turned_off = [flag for flag in STRICT_FLAGS if override.get(flag) is False]
        relaxing = [setting for setting in RELAXING if setting in override]
        assert not turned_off and not relaxing, (
            f"the mypy override for {', '.join(modules)} relaxes {', '.join(turned_off + relaxing)}: "
            "engines/ is checked strictly, all of it"
        )
    config = _mypy_config()
    assert not config.get("ignore_errors") and not config.get("disable_error_code"), "mypy checks everything"
