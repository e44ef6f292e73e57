"""`python -m medallion.ci retry`: the backoff plan through an injected sleep (no real waits,
no clock), and the exit-code contract around real child processes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from medallion.ci import run_with_retry
from medallion.errors import EXIT_DATA, EXIT_ERROR, EXIT_TRANSIENT
from tests.ci.cihelpers import REPO, run

# A child that fails with CODE until its attempt number reaches SUCCEED_ON.
FLAKY = """
import sys
log = sys.argv[1]
with open(log, "a") as fh:
    fh.write("attempt\\n")
attempt = sum(1 for _ in open(log))
sys.exit(int(sys.argv[3]) if attempt < int(sys.argv[2]) else 0)
"""


def _scripted(codes: Sequence[int]) -> tuple[list[float], list[int], object, object]:
    """A fake command returning codes in turn, and a sleep that records instead of waiting."""
    waits: list[float] = []
    calls: list[int] = []
    queue = list(codes)

    def fake_run(_argv: Sequence[str]) -> int:
        calls.append(1)
        return queue.pop(0)

    return waits, calls, fake_run, waits.append


def test_transient_failures_wait_with_exponential_backoff_then_succeed() -> None:
    waits, calls, fake_run, sleep = _scripted([EXIT_TRANSIENT, EXIT_TRANSIENT, 0])
    code = run_with_retry(
        ["cmd"], retries=2, delay=30, factor=2, max_delay=600, sleep=sleep, run=fake_run
    )
    assert code == 0
    assert len(calls) == 3
    assert waits == [30, 60]


def test_backoff_is_capped_by_max_delay() -> None:
    waits, _, fake_run, sleep = _scripted([EXIT_TRANSIENT] * 4)
    code = run_with_retry(
        ["cmd"], retries=3, delay=100, factor=3, max_delay=250, sleep=sleep, run=fake_run
    )
    assert code == EXIT_TRANSIENT
    assert waits == [100, 250, 250]


@pytest.mark.parametrize("code", [EXIT_DATA, EXIT_ERROR, 137])
def test_non_transient_codes_end_the_step_at_once(code: int) -> None:
    """A failed gate (1), a permanent error (2) or a killed command: one attempt, no wait."""
    waits, calls, fake_run, sleep = _scripted([code, 0])
    assert run_with_retry(["cmd"], retries=2, delay=30, sleep=sleep, run=fake_run) == code
    assert len(calls) == 1 and waits == []


def test_retry_on_lists_the_codes_worth_retrying() -> None:
    waits, calls, fake_run, sleep = _scripted([3, 0])
    code = run_with_retry(
        ["cmd"], retries=1, delay=1, retry_on=frozenset({3}), sleep=sleep, run=fake_run
    )
    assert code == 0 and len(calls) == 2 and waits == [1]


def _retry_cli(tmp_path: Path, *options: str, succeed_on: int, code: int) -> tuple[int, int, str]:
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
    attempts = len(log.read_text().split()) if log.exists() else 0
    return result.returncode, attempts, result.stdout + result.stderr


def test_cli_retries_the_transient_exit_code_by_default(tmp_path: Path) -> None:
    code, attempts, output = _retry_cli(
        tmp_path, "--retries", "2", "--delay", "0", succeed_on=3, code=EXIT_TRANSIENT
    )
    assert code == 0, output
    assert attempts == 3
    assert "::warning title=retry::" in output  # a GitHub annotation per retry
    assert "succeeded on attempt 3 of 3" in output


def test_cli_propagates_the_last_exit_code(tmp_path: Path) -> None:
    code, attempts, output = _retry_cli(
        tmp_path, "--retries", "2", "--delay", "0", succeed_on=99, code=EXIT_TRANSIENT
    )
    assert code == EXIT_TRANSIENT
    assert attempts == 3  # 1 + 2 retries, no more
    assert f"exited {EXIT_TRANSIENT} on the last attempt (3)" in output


def test_cli_does_not_retry_a_quality_gate(tmp_path: Path) -> None:
    """Exit 1 of `medallion layer test` is bad data: one attempt, and its code comes back."""
    code, attempts, output = _retry_cli(
        tmp_path, "--retries", "2", "--delay", "0", succeed_on=99, code=EXIT_DATA
    )
    assert code == EXIT_DATA
    assert attempts == 1
    assert "not retried" in output


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
