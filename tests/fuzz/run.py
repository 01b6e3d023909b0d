"""`make fuzz`: fuzz the front end for a while and print how many inputs were tried.

    python tests/fuzz/run.py --seconds 600            # both engines, half the time each
    python tests/fuzz/run.py --engine atheris --seconds 60

`atheris` mutates the kept corpus (`tests/fuzz/corpus`, to which it adds inputs that
reach new code) guided by coverage; `grammar` draws whole programs from the Lark
grammar with Hypothesis. A crashing input is written to `tests/fuzz/crashes/`, where
`tests/test_fuzz.py` keeps it as a regression test; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS, CRASHES = HERE / "corpus", HERE / "crashes"
sys.path.insert(0, str(HERE))


def keep_crash(data: bytes, error: BaseException) -> Path:
    CRASHES.mkdir(exist_ok=True)
    path = CRASHES / f"crash-{hashlib.sha256(data).hexdigest()[:16]}.nn"
    path.write_bytes(data)
    print(f"crash: {type(error).__name__}: {error}\nkept as {path}", file=sys.stderr)
    traceback.print_exception(error, limit=12)
    return path


def run_atheris(seconds: int, corpus: Path, crashes: Path, runs: int | None = None,
                seed: int | None = None) -> int:
    """Runs libFuzzer in a child process (it ends its process when done) for `seconds`,
    or for `runs` inputs from `seed` (the same inputs on every machine: what the test
    suite runs); returns the number of inputs it reports having run."""
    import subprocess

    code = (
        "import sys, atheris\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "with atheris.instrument_imports(include=['dslc']):\n"
        "    import target\n"
        "def one(data):\n"
        "    target.check_bytes(data)\n"
        "atheris.Setup(sys.argv, one)\n"
        "atheris.Fuzz()\n"
    )
    crashes.mkdir(exist_ok=True)
    limits = [f"-runs={runs}"] if runs else [f"-max_total_time={seconds}"]
    limits += [f"-seed={seed}"] if seed is not None else []
    result = subprocess.run(
        [sys.executable, "-c", code, *limits, "-timeout=30", "-rss_limit_mb=4096",
         f"-artifact_prefix={crashes}/", "-print_final_stats=1", str(corpus)],
        capture_output=True, text=True)
    runs = [line for line in result.stderr.splitlines() if "stat::number_of_executed_units" in line]
    if result.returncode != 0:
        print(result.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"atheris found a crash (exit {result.returncode}); see {crashes}")
    return int(runs[-1].split(":")[-1]) if runs else 0


def run_grammar(seconds: int) -> int:
    """Hypothesis draws programs from the grammar until `seconds` have passed."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis.extra.lark import from_lark

    import target
    from dslc.dsl.parser import get_plain_lark

    deadline = time.monotonic() + seconds
    count = 0

    @settings(max_examples=100, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(from_lark(get_plain_lark()))
    def programs(text):
        nonlocal count
        count += 1
        try:
            target.check_text(text)
        except Exception as error:
            keep_crash(text.encode("utf-8"), error)
            raise

    while time.monotonic() < deadline:
        try:
            programs()
        except Exception:  # noqa: BLE001 - kept and reported by keep_crash
            raise SystemExit("the grammar engine found a crash; see tests/fuzz/crashes")
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--engine", choices=("both", "atheris", "grammar"), default="both")
    parser.add_argument("--corpus", type=Path, default=CORPUS,
                        help="atheris' corpus, which it extends (default: the kept one)")
    parser.add_argument("--crashes", type=Path, default=CRASHES)
    parser.add_argument("--runs", type=int, help="atheris: this many inputs instead of a time")
    parser.add_argument("--seed", type=int, help="atheris: libFuzzer's random seed")
    args = parser.parse_args()
    os.environ.setdefault("NO_COLOR", "1")
    engines = ["atheris", "grammar"] if args.engine == "both" else [args.engine]
    share = max(1, args.seconds // len(engines))
    total = 0
    for engine in engines:
        started = time.monotonic()
        tried = (run_atheris(share, args.corpus, args.crashes, args.runs, args.seed)
                 if engine == "atheris" else run_grammar(share))
        total += tried
        print(f"{engine}: {tried} inputs in {time.monotonic() - started:.0f} s, no crash")
    print(f"fuzzed the front end with {total} inputs, no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
