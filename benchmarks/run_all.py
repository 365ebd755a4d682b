"""`make bench`: run every benchmark in benchmarks/, print one table and write it as JSON.

Each benchmark runs in its own process (its own throwaway database) and
records its headline figures with harness.record_figure. PostgreSQL is used
when its server binaries exist, SQLite otherwise (BENCH_DB overrides).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.throwaway_postgres import postgres_bin_dir  # noqa: E402 (the path is set just above)


def benchmark_modules(only: list[str]) -> list[str]:
    names = sorted(path.stem for path in (ROOT / "benchmarks").glob("bench_*.py"))
    unknown = set(only) - set(names)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    return [name for name in names if not only or name in only]


def run_one(name: str, database: str, results_file: Path) -> tuple[int, float]:
    env = {**os.environ, "BENCH_DB": database, "BENCH_RESULTS": str(results_file), "BENCH_NAME": name}
    start = time.perf_counter()
    print(f"\n== {name} ({database}) ==", flush=True)
    code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"], cwd=ROOT, env=env)
    return code, time.perf_counter() - start


def table(rows: list[dict]) -> str:
    header = ("benchmark", "figure", "goal", "measured", "ratio", "met")
    lines = [header]
    for row in rows:
        ratio = "" if row.get("ratio") is None else f"{row['ratio']:.2f}"
        met = {True: "yes", False: "NO", None: ""}[row.get("met")]
        lines.append(
            (row["benchmark"], row["figure"], row["goal"], f"{row['measured']:,.2f} {row['unit']}", ratio, met)
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)) for line in lines
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="benchmark module names (default: all), e.g. bench_scorer")
    parser.add_argument("--json", default=str(ROOT / "var" / "bench" / "results.json"), help="where to write the table")
    args = parser.parse_args()
    database = os.environ.get("BENCH_DB") or ("postgres" if postgres_bin_dir() else "sqlite")
    rows: list[dict] = []
    failures = []
    for name in benchmark_modules(args.only):
        with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as results:
            code, seconds = run_one(name, database, Path(results.name))
            figures = [json.loads(line) for line in results.read().splitlines() if line.strip()]
        if code != 0:
            failures.append(name)
        rows += [{"benchmark": name, **figure} for figure in figures]
        print(f"-- {name}: exit {code} after {seconds:.0f} s, {len(figures)} figure(s)")
    print(f"\nBenchmarks on {database}:\n{table(rows)}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"database": database, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rows": rows}, indent=2)
    )
    print(f"\nwritten to {out}")
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
