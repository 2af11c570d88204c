"""The sampling strategies: documented behaviour, and the default does not slow a busy flow down."""
from __future__ import annotations

import random as stdlib_random
from typing import Any

import pytest

from selinon_django import strategies
from selinon_django.config.model import Sampling
from selinon_django.strategies import (
    STRATEGIES,
    SamplingStatus,
    biexponential_adapt,
    biexponential_decrease,
    biexponential_increase,
    constant,
    linear_adapt,
    linear_increase,
)


def status(
    previous: float | None,
    *,
    active: bool = True,
    started: bool = False,
    fallback: bool = False,
) -> SamplingStatus:
    return {
        "previous_retry": previous,
        "active_nodes": [{"name": "Task1", "id": "1"}] if active else [],
        "failed_nodes": {},
        "new_started_nodes": ["Task1"] if started else [],
        "new_fallback_nodes": ["Fallback1"] if fallback else [],
        "finished_nodes": {},
    }


ALL_WITH_ARGS: list[tuple[str, dict[str, Any]]] = [
    ("biexponential_increase", {"start_retry": 2, "max_retry": 120}),
    ("biexponential_decrease", {"start_retry": 64, "stop_retry": 2}),
    ("biexponential_adapt", {"start_retry": 2, "max_retry": 120}),
    ("linear_increase", {"start_retry": 2, "max_retry": 20, "step": 3}),
    ("linear_adapt", {"start_retry": 2, "max_retry": 20, "step": 3}),
    ("random", {"start_retry": 1, "max_retry": 5}),
    ("constant", {"retry": 7}),
]


@pytest.mark.parametrize(("name", "args"), ALL_WITH_ARGS)
def test_nothing_active_ends_the_flow(name: str, args: dict[str, Any]) -> None:
    assert STRATEGIES[name](status(None, active=False), **args) is None
    assert STRATEGIES[name](status(10, active=False, started=True), **args) is None


@pytest.mark.parametrize(("name", "args"), ALL_WITH_ARGS)
def test_every_strategy_is_a_module_function_by_its_yaml_name(name: str, args: dict[str, Any]) -> None:
    assert getattr(strategies, name) is STRATEGIES[name]
    assert STRATEGIES[name](status(None), **args) is not None


def test_default_sampling_names_a_strategy_of_this_module() -> None:
    default = Sampling()
    assert default.module == "selinon_django.strategies"
    assert getattr(strategies, default.name)(status(None), **default.args) == 2


def test_biexponential_increase_backs_off_while_idle_and_resets_on_progress() -> None:
    assert biexponential_increase(status(None), start_retry=2, max_retry=120) == 2
    assert biexponential_increase(status(2), start_retry=2, max_retry=120) == 4
    assert biexponential_increase(status(64), start_retry=2, max_retry=120) == 120
    assert biexponential_increase(status(120), start_retry=2, max_retry=120) == 120
    assert biexponential_increase(status(64, started=True), start_retry=2, max_retry=120) == 2
    assert biexponential_increase(status(64, fallback=True), start_retry=2, max_retry=120) == 2


def test_biexponential_decrease_halves_while_idle_and_drops_to_stop_on_progress() -> None:
    assert biexponential_decrease(status(None), start_retry=64, stop_retry=2) == 64
    assert biexponential_decrease(status(64), start_retry=64, stop_retry=2) == 32
    assert biexponential_decrease(status(3), start_retry=64, stop_retry=2) == 2
    assert biexponential_decrease(status(64, started=True), start_retry=64, stop_retry=2) == 2


def test_biexponential_adapt_doubles_while_idle_and_halves_on_progress() -> None:
    assert biexponential_adapt(status(None), start_retry=2, max_retry=120) == 2
    assert biexponential_adapt(status(8), start_retry=2, max_retry=120) == 16
    assert biexponential_adapt(status(100), start_retry=2, max_retry=120) == 120
    assert biexponential_adapt(status(16, started=True), start_retry=2, max_retry=120) == 8
    assert biexponential_adapt(status(3, fallback=True), start_retry=2, max_retry=120) == 2


def test_linear_increase_adds_step_while_idle_and_resets_on_progress() -> None:
    assert linear_increase(status(None), start_retry=2, max_retry=20, step=3) == 2
    assert linear_increase(status(2), start_retry=2, max_retry=20, step=3) == 5
    assert linear_increase(status(19), start_retry=2, max_retry=20, step=3) == 20
    assert linear_increase(status(17, started=True), start_retry=2, max_retry=20, step=3) == 2


def test_linear_adapt_adds_step_while_idle_and_subtracts_on_progress() -> None:
    assert linear_adapt(status(None), start_retry=2, max_retry=20, step=3) == 2
    assert linear_adapt(status(5), start_retry=2, max_retry=20, step=3) == 8
    assert linear_adapt(status(19), start_retry=2, max_retry=20, step=3) == 20
    assert linear_adapt(status(11, started=True), start_retry=2, max_retry=20, step=3) == 8
    assert linear_adapt(status(4, started=True), start_retry=2, max_retry=20, step=3) == 2


def test_constant_ignores_progress() -> None:
    assert constant(status(None), retry=7) == 7
    assert constant(status(7, started=True), retry=7) == 7
    assert constant(status(7), retry=7) == 7


def test_random_stays_within_bounds_and_varies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strategies, "_rng", stdlib_random.Random(1234))
    values = [strategies.random(status(None), start_retry=1, max_retry=5) for _ in range(200)]
    assert all(v is not None and 1 <= v <= 5 for v in values)
    assert set(values) == {1, 2, 3, 4, 5}
    floats = [strategies.random(status(3), start_retry=0.5, max_retry=1.5) for _ in range(50)]
    assert all(f is not None and 0.5 <= f <= 1.5 for f in floats)
    assert len(set(floats)) > 1


def test_default_strategy_does_not_slow_down_a_chain_of_instant_tasks() -> None:
    """Do better 8: five instant tasks in a chain, each step starts the next one.

    Selinon 1.4 waits 2+4+8+16+32 = 62 s here; the documented behaviour waits 2 s per step.
    """
    default = Sampling()
    strategy = getattr(strategies, default.name)
    previous: float | None = None
    waited = 0.0
    for _ in range(5):
        retry = strategy(status(previous, started=True), **default.args)
        assert retry is not None
        waited += retry
        previous = retry
    assert waited == 10
    # the last task finished: nothing active, the flow ends
    assert strategy(status(previous, active=False), **default.args) is None


def test_signatures_match_what_the_config_checker_allows() -> None:
    """The loader checks YAML ``args`` against a table; it must agree with the functions."""
    import inspect

    from selinon_django.config.checks import STRATEGY_ARGUMENTS

    assert set(STRATEGY_ARGUMENTS) == set(STRATEGIES)
    for name, function in STRATEGIES.items():
        parameters = list(inspect.signature(function).parameters)
        assert parameters[0] == "status"
        assert tuple(parameters[1:]) == STRATEGY_ARGUMENTS[name], name
