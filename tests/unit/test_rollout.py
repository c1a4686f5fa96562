"""The rollout core both targets share (no engine): what each dependency condition waits for, and when a
dependency's failure stops the unit that needs it."""

from __future__ import annotations

import io
import threading

import pytest

from fovea_ctl.core.run_progress import PlainReporter
from fovea_ctl.model import Condition
from fovea_ctl.probes import Cancelled
from fovea_ctl.reconcile.rollout import DependencyFailed, Outcome, Rollout


def rollout(cancel: threading.Event | None = None) -> Rollout:
    return Rollout(["db", "migrate", "api"], PlainReporter(stream=io.StringIO()), cancel or threading.Event())


def settle(r: Rollout, unit: str, outcome: Outcome, started: bool = True) -> None:
    if started:
        r.runs[unit].started.set()
    r.runs[unit].outcome = outcome
    r.runs[unit].done.set()


def test_started_is_met_once_the_dependency_runs_even_before_it_is_ready() -> None:
    r = rollout()
    r.runs["db"].started.set()
    r.wait_condition("api", "db", Condition.STARTED)  # returns: db is not done, but it runs


def test_a_dependency_that_failed_before_it_started_stops_a_unit_that_needs_it_started() -> None:
    r = rollout()
    settle(r, "db", Outcome.FAILED, started=False)
    with pytest.raises(DependencyFailed, match="dependency db failed"):
        r.wait_condition("api", "db", Condition.STARTED)


def test_ready_waits_for_the_outcome_and_completed_needs_a_completed_job() -> None:
    r = rollout()
    settle(r, "db", Outcome.READY)
    r.wait_condition("api", "db", Condition.READY)
    with pytest.raises(DependencyFailed):
        r.wait_condition("api", "db", Condition.COMPLETED)
    settle(r, "migrate", Outcome.COMPLETED)
    r.wait_condition("api", "migrate", Condition.COMPLETED)


def test_a_unit_outside_the_run_is_taken_as_there() -> None:
    rollout().wait_condition("api", "cache", Condition.READY)  # a targeted run: it must already be up


def test_waiting_ends_when_the_run_is_cancelled() -> None:
    cancel = threading.Event()
    r = rollout(cancel)
    threading.Timer(0.1, cancel.set).start()
    with pytest.raises(Cancelled):
        r.wait_condition("api", "db", Condition.READY)


def test_past_its_timeout_the_run_says_so_once_and_cancels_every_unit() -> None:
    cancel = threading.Event()
    r = rollout(cancel)
    timeouts: list[str] = []
    waiter = threading.Thread(target=lambda: cancel.wait(5))
    r.run_threads([waiter], timeout_s=0.2, on_timeout=lambda: timeouts.append("timed out"))
    assert cancel.is_set() and timeouts == ["timed out"]
