"""Throttling policy: starts are spaced by the interval, without bursts after a quiet period."""
from __future__ import annotations

import pytest

from selinon_django.engine.throttling import ThrottleSlot, next_slot


def test_first_start_is_immediate() -> None:
    assert next_slot(None, now=100.0, interval=10) == ThrottleSlot(start_at=100.0, countdown=0.0)


def test_no_interval_means_no_throttling() -> None:
    assert next_slot(99.0, now=100.0, interval=None) == (100.0, 0.0)
    assert next_slot(99.0, now=100.0, interval=0) == (100.0, 0.0)


def test_start_after_the_interval_has_passed_is_immediate() -> None:
    assert next_slot(80.0, now=100.0, interval=10) == (100.0, 0.0)
    assert next_slot(90.0, now=100.0, interval=10) == (100.0, 0.0)


def test_start_within_the_interval_waits_for_the_rest_of_it() -> None:
    slot = next_slot(95.0, now=100.0, interval=10)
    assert slot.start_at == 105.0
    assert slot.countdown == pytest.approx(5.0)


def test_simultaneous_requests_are_spaced_by_the_interval() -> None:
    """Ten flows want the node at the same moment: one start every ten seconds, no burst."""
    last: float | None = None
    starts = []
    for _ in range(10):
        slot = next_slot(last, now=1000.0, interval=10)
        starts.append(slot.start_at)
        last = slot.start_at
    assert starts == [1000.0 + 10 * i for i in range(10)]


def test_requests_after_a_quiet_period_do_not_burst() -> None:
    """Selinon keeps now+interval; after a quiet period every request saw an expired entry."""
    last = next_slot(None, now=0.0, interval=10).start_at
    # long pause, then three requests arrive together
    first = next_slot(last, now=500.0, interval=10)
    second = next_slot(first.start_at, now=500.0, interval=10)
    third = next_slot(second.start_at, now=500.5, interval=10)
    assert [first.countdown, second.countdown, third.countdown] == [0.0, 10.0, 19.5]


def test_requests_spread_over_time_keep_the_spacing() -> None:
    last: float | None = None
    starts = []
    for now in (0.0, 3.0, 6.0, 9.0, 40.0, 41.0):
        slot = next_slot(last, now=now, interval=10)
        assert slot.countdown == pytest.approx(slot.start_at - now)
        assert slot.countdown >= 0
        starts.append(slot.start_at)
        last = slot.start_at
    assert starts == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
