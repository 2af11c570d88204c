"""The user-facing task API against an in-memory storage pool."""
from __future__ import annotations

import sys
from typing import Any

import pytest

import selinon_django
from selinon_django.config.model import Task
from selinon_django.errors import FatalTaskError
from selinon_django.runtime.execution import task_class
from selinon_django.storages.base import StoredTaskError
from selinon_django.storages.memory import InMemoryStorage
from selinon_django.storages.pool import StoragePool
from selinon_django.task import (
    OutputSchemaError,
    ParentLookupError,
    RequestedRetry,
    SelinonTask,
    validate_output,
)
from tests.unit.storages.helpers import make_config, storage, task


class Echo(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return node_args


class NeedsKeyword(Exception):
    def __init__(self, *, code: int) -> None:
        super().__init__(f"code {code}")


class PlainError(Exception):
    pass


def exc_info_of(exc: BaseException) -> tuple[Any, Any, Any]:
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


@pytest.fixture
def pool() -> StoragePool:
    config = make_config(
        tasks=[
            task("Task1"),
            task("TaskA", storage_task_name="Alias"),
            task("Child"),
            task("NoStorage", storage_name=None),
            task("Step1"),
        ]
    )
    return StoragePool(config)


def make_task(pool: StoragePool, parent: Any = None, cls: type[SelinonTask] = Echo, name: str = "Child") -> SelinonTask:
    return cls("flow1", name, parent, "child-id", "dispatcher-id", storage_pool=pool)


def test_identity_properties_and_logger(pool: StoragePool) -> None:
    t = make_task(pool, parent={"Task1": "t1"})
    assert (t.flow_name, t.task_name, t.task_id, t.dispatcher_id) == ("flow1", "Child", "child-id", "dispatcher-id")
    assert t.parent == {"Task1": "t1"}
    assert t.log.name == f"{Echo.__module__}.Echo"
    assert t.run({"x": 1}) == {"x": 1}


def test_config_alone_gives_the_process_pool() -> None:
    config = make_config(tasks=[task("Child")])
    t = Echo("flow1", "Child", None, "id", "d", config=config)
    assert t.storage_pool is StoragePool.for_config(config)
    assert t.config is config


def test_storage_is_the_connected_adapter_or_none(pool: StoragePool) -> None:
    adapter = make_task(pool).storage
    assert isinstance(adapter, InMemoryStorage) and adapter.is_connected()
    assert adapter is pool.get_connected_storage("Memory")
    assert make_task(pool, name="NoStorage").storage is None
    assert Echo("f", "Child", None, "i", "d").storage is None


def test_parent_task_result(pool: StoragePool) -> None:
    pool.store({"a": 1}, "flow1", "Task1", "t1", {"value": 42})
    assert make_task(pool, parent={"Task1": "t1"}).parent_task_result("Task1") == {"value": 42}


def test_parent_task_result_uses_storage_task_name_for_retrieve(pool: StoragePool) -> None:
    pool.store(None, "flow1", "TaskA", "ta", [1, 2])
    adapter = pool.get_connected_storage("Memory")
    assert adapter.retrieve("flow1", "Alias", "ta") == [1, 2]  # stored under the alias
    with pytest.raises(KeyError):
        adapter.retrieve("flow1", "TaskA", "ta")
    assert make_task(pool, parent={"TaskA": "ta"}).parent_task_result("TaskA") == [1, 2]


def test_parent_task_result_errors_are_clear(pool: StoragePool) -> None:
    t = make_task(pool, parent={"Task1": "t1", "flow2": {"Task1": ["x"]}})
    with pytest.raises(ParentLookupError, match=r"no parent 'Nope' \(parents: Task1, flow2\)"):
        t.parent_task_result("Nope")
    with pytest.raises(ParentLookupError, match="is a sub-flow"):
        t.parent_task_result("flow2")
    with pytest.raises(ParentLookupError, match="parents: none"):
        make_task(pool, parent=None).parent_task_result("Task1")


NESTED = {"flow2": {"Task1": ["a", "b"], "flow3": {"Task1": ["c"]}}}


@pytest.fixture
def sub_flow_results(pool: StoragePool) -> StoragePool:
    for task_id in ("a", "b", "c"):
        pool.store(None, "flowX", "Task1", task_id, {"id": task_id})
    return pool


def test_parent_flow_result_nested(sub_flow_results: StoragePool) -> None:
    t = make_task(sub_flow_results, parent=NESTED)
    assert t.parent_flow_result(["flow2", "flow3"], "Task1") == {"id": "c"}
    assert t.parent_flow_result("flow2", "Task1") == {"id": "b"}  # default: the last instance
    assert t.parent_flow_result(["flow2"], "Task1", index=0) == {"id": "a"}
    assert t.parent_flow_result("flow2", "Task1", index=-2) == {"id": "a"}


def test_parent_flow_result_compound(sub_flow_results: StoragePool) -> None:
    t = make_task(sub_flow_results, parent={"flow2": {"Task1": ["a", "c"]}})
    assert t.parent_flow_result("flow2", "Task1") == {"id": "c"}
    # a nested path written for propagate_finished still finds the flattened task
    assert t.parent_flow_result(["flow2", "flow3"], "Task1", index=0) == {"id": "a"}


def test_parent_flow_result_bad_index_and_paths(sub_flow_results: StoragePool) -> None:
    t = make_task(sub_flow_results, parent=NESTED)
    with pytest.raises(ParentLookupError, match=r"index 2 out of range, Task1 ran 2 time\(s\) in flow2"):
        t.parent_flow_result("flow2", "Task1", index=2)
    with pytest.raises(ParentLookupError, match="holds no sub-flow 'flow9'"):
        t.parent_flow_result("flow9", "Task1")
    with pytest.raises(ParentLookupError, match="no finished 'Task7'"):
        t.parent_flow_result(["flow2", "flow3"], "Task7")
    with pytest.raises(TypeError):
        t.parent_flow_result("flow2", "Task1", index="0")  # type: ignore[arg-type]


def test_parent_task_exception_rebuilds_the_exception(pool: StoragePool) -> None:
    pool.store_error({"a": 1}, "flow1", "Task1", "t1", exc_info_of(ValueError("boom", 3)))
    pool.store_error(None, "flow1", "TaskA", "ta", exc_info_of(PlainError("custom")))
    t = make_task(pool, parent={"Task1": "t1", "TaskA": "ta"})
    exc = t.parent_task_exception("Task1")
    assert type(exc) is ValueError and exc.args == ("boom", 3)
    assert any("raise exc" in note for note in exc.__notes__)  # the stored traceback travels along
    assert type(t.parent_task_exception("TaskA")) is PlainError


def test_parent_task_exception_falls_back_to_stored_error(pool: StoragePool) -> None:
    pool.store_error(None, "flow1", "Task1", "t1", exc_info_of(NeedsKeyword(code=7)))
    exc = make_task(pool, parent={"Task1": "t1"}).parent_task_exception("Task1")
    assert isinstance(exc, StoredTaskError)
    assert exc.type_name == "NeedsKeyword" and exc.message == "code 7"
    assert "NeedsKeyword" in exc.traceback_text


def test_parent_flow_exception(pool: StoragePool) -> None:
    pool.store_error(None, "flow3", "Task1", "c", exc_info_of(KeyError("k")))
    t = make_task(pool, parent=NESTED)
    exc = t.parent_flow_exception(["flow2", "flow3"], "Task1")
    assert type(exc) is KeyError and exc.args == ("k",)


def test_parent_task_exception_without_stored_error(pool: StoragePool) -> None:
    t = make_task(pool, parent={"Task1": "t1", "NoStorage": "n1"})
    with pytest.raises(ParentLookupError, match="no stored error of Task1 t1"):
        t.parent_task_exception("Task1")
    with pytest.raises(ParentLookupError, match="no storage configured"):
        t.parent_task_exception("NoStorage")


def test_exception_lookup_covers_tasks_without_stored_errors(pool: StoragePool) -> None:
    asked: list[tuple[str, str, str]] = []

    def lookup(flow_name: str, task_name: str, task_id: str) -> BaseException | None:
        asked.append((flow_name, task_name, task_id))
        return RuntimeError("from the runtime")

    t = Echo("flow1", "Child", {"NoStorage": "n1"}, "i", "d", storage_pool=pool, exception_lookup=lookup)
    assert str(t.parent_task_exception("NoStorage")) == "from the runtime"
    assert asked == [("flow1", "NoStorage", "n1")]


def test_retry_raises_requested_retry(pool: StoragePool) -> None:
    class Retrying(SelinonTask):
        def run(self, node_args: Any) -> Any:
            self.retry(countdown=5)

    with pytest.raises(RequestedRetry) as caught:
        make_task(pool, cls=Retrying).run(None)
    assert caught.value.countdown == 5
    with pytest.raises(RequestedRetry) as caught:
        SelinonTask.retry()
    assert caught.value.countdown == 0
    with pytest.raises(ValueError, match="non-negative"):
        SelinonTask.retry(-1)


def test_fatal_task_error_is_the_shared_one() -> None:
    from selinon_django import task as task_module

    assert task_module.FatalTaskError is FatalTaskError
    assert selinon_django.FatalTaskError is FatalTaskError
    assert selinon_django.SelinonTask is SelinonTask


def test_example_tasks_run_unchanged(pool: StoragePool) -> None:
    import example_tasks

    pool.store(None, "flow1", "Task1", "t1", {"task": "Task1", "n": 2})
    step = example_tasks.Step("flow1", "Step1", {"Task1": "t1", "flow2": {"X": ["y"]}}, "s1", "d", storage_pool=pool)
    assert step.run({"foo": 1}) == {"task": "Step1", "foo": "bar", "n": 3}
    first = example_tasks.Step("flow1", "Step1", None, "s0", "d", storage_pool=pool)
    assert first.run(None)["n"] == 1
    with pytest.raises(ValueError, match="planned failure in Step1"):
        example_tasks.Fail("flow1", "Step1", None, "f", "d", storage_pool=pool).run(None)


# --- output_schema ---

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def test_validate_output_checks_the_document_kept_in_the_configuration() -> None:
    config = make_config(tasks=[task("Task1", output_schema="schemas/out.json", output_schema_document=SCHEMA)])
    validate_output(config.tasks["Task1"], {"n": 1})
    with pytest.raises(OutputSchemaError, match=r"Task1 does not match schemas/out.json: n: 'x' is not of type"):
        validate_output(config.tasks["Task1"], {"n": "x"})
    with pytest.raises(OutputSchemaError, match=r"\(root\): 'n' is a required property"):
        validate_output(config.tasks["Task1"], {})


def test_validate_output_without_a_stored_document_fails_clearly() -> None:
    # a revision stored before schemas were kept: the task fails, no file is read
    with pytest.raises(OutputSchemaError, match="stored without the schema document"):
        validate_output(task("T", output_schema="/etc/passwd"), {})


def test_validate_output_without_schema_accepts_anything() -> None:
    validate_output(task("T"), object())


def test_storage_helper_builds_distinct_storages() -> None:
    # guard for the helpers the other tests rely on
    config = make_config(tasks=[task("A", storage_name="S2")], storages=[storage("S2")])
    assert config.tasks["A"].storage == "S2" and "S2" in config.storages


def test_a_task_class_must_be_a_selinon_task() -> None:
    config = make_config(tasks=[Task(name="T", module="os", classname="system")])
    with pytest.raises(TypeError, match=r"os\.system is not a SelinonTask subclass"):
        task_class(config, "T")
