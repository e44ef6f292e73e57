"""`python -m medallion.ci retry`, run for real around real child processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cihelpers import REPO, run

# A child that records when it ran, then fails until its attempt number reaches SUCCEED_ON.
FLAKY = """
import os, sys, time
log = sys.argv[1]
with open(log, "a") as fh:
    fh.write(f"{time.monotonic()}\\n")
attempt = sum(1 for _ in open(log))
code = int(sys.argv[3]) if attempt < int(sys.argv[2]) else 0
sys.exit(code)
"""


def _retry(
    tmp_path: Path, *options: str, succeed_on: int, code: int
) -> tuple[int, list[float], str]:
    log = tmp_path / "attempts.log"
    script = tmp_path / "flaky.py"
    script.write_text(FLAKY, encoding="utf-8")
    env = {**os.environ, "GITHUB_ACTIONS": "true", "PYTHONPATH": str(REPO / "src")}
    result = run(
        [
            sys.executable, "-m", "medallion.ci", "retry", *options,
            "--", sys.executable, str(script), str(log), str(succeed_on), str(code),
        ],
        env=env,
    )  # fmt: skip
    times = [float(line) for line in log.read_text().split()] if log.exists() else []
    return result.returncode, times, result.stdout + result.stderr


def test_transient_failure_is_retried_with_exponential_backoff(tmp_path: Path) -> None:
    code, times, output = _retry(
        tmp_path, "--retries", "2", "--delay", "0.2", "--factor", "2", succeed_on=3, code=2
    )
    assert code == 0, output
    assert len(times) == 3
    first_wait, second_wait = times[1] - times[0], times[2] - times[1]
    assert first_wait >= 0.2
    assert second_wait >= 0.4
    assert "::warning title=retry::" in output  # a GitHub annotation per retry
    assert "succeeded on attempt 3 of 3" in output


def test_first_success_runs_once(tmp_path: Path) -> None:
    code, times, _ = _retry(tmp_path, "--delay", "0", succeed_on=1, code=2)
    assert code == 0 and len(times) == 1


def test_final_exit_code_is_propagated_after_the_last_attempt(tmp_path: Path) -> None:
    code, times, output = _retry(
        tmp_path, "--retries", "2", "--delay", "0.01", succeed_on=99, code=3
    )
    assert code == 3
    assert len(times) == 3  # 1 + 2 retries, no more
    assert "exited 3 on the last attempt (3)" in output


def test_quality_gate_exit_code_is_not_retried(tmp_path: Path) -> None:
    """Exit 1 of `medallion layer test` is bad data: one attempt, and its code comes back."""
    code, times, output = _retry(
        tmp_path, "--retries", "2", "--delay", "5", "--no-retry-on", "1", succeed_on=99, code=1
    )
    assert code == 1
    assert len(times) == 1
    assert "not retried" in output


def test_other_codes_still_retried_when_some_are_excluded(tmp_path: Path) -> None:
    code, times, _ = _retry(
        tmp_path, "--retries", "1", "--delay", "0.01", "--no-retry-on", "1", succeed_on=2, code=2
    )
    assert code == 0 and len(times) == 2


def test_death_by_signal_is_reported_as_128_plus_signal(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = run(
        [sys.executable, "-m", "medallion.ci", "retry", "--retries", "0", "--",
         "sh", "-c", "kill -9 $$"],
        env=env,
    )  # fmt: skip
    assert result.returncode == 137


def test_missing_command_fails_clearly(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    missing = run(
        [sys.executable, "-m", "medallion.ci", "retry", "--retries", "0", "--",
         str(tmp_path / "no-such-program")],
        env=env,
    )  # fmt: skip
    assert missing.returncode == 127
    assert "command not found" in missing.stderr
    empty = run([sys.executable, "-m", "medallion.ci", "retry", "--"], env=env)
    assert empty.returncode == 2 and "no command given" in empty.stderr
