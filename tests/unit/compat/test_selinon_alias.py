"""``import selinon`` without the selinon distribution: what the alias provides, where it is in
place, and that a real Selinon installation is never shadowed.

Where a test is about a fresh process (nothing imported yet, a fake real ``selinon`` on the
path, a management command) it runs one; the rest use this test process, where Django's set-up
imported ``selinon_django`` and so installed the alias.
"""
from __future__ import annotations

import importlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from selinon_django.compat import OPT_OUT_VARIABLE, selinon_alias_installed
from selinon_django.compat.selinon_names import INTERNAL_MODULES, MODULES, PREDICATE_NAMES, UNSUPPORTED_NAMES

REPO = Path(__file__).resolve().parents[3]


def run_python(code: str, *, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    environment.pop(OPT_OUT_VARIABLE, None)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=120)


def test_the_selinon_distribution_is_not_installed_here() -> None:
    """The premise of every other test: whatever ``selinon`` resolves to is the alias."""
    import selinon

    assert selinon_alias_installed()
    assert type(selinon).__name__ == "SelinonAliasModule"
    assert selinon.__spec__.origin == "selinon_django.compat"


@pytest.mark.parametrize("module_name", sorted(MODULES))
def test_every_listed_name_is_this_apps_object(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(MODULES[module_name])
    for name, target in MODULES[module_name].items():
        target_module, attribute = target.split(":")
        assert getattr(module, name) is getattr(importlib.import_module(target_module), attribute), (module_name, name)


def test_selinon_code_imports_unchanged() -> None:
    from selinon import (
        Config,
        DataStorage,
        FatalTaskError,
        SelinonTask,
        StoragePool,
        Trace,
        run_flow,
        run_flow_selective,
    )
    from selinon.caches import LRU
    from selinon.errors import FlowError, StorageError
    from selinon.predicates import argsFieldEqual, fieldEqual
    from selinon.storages.mongodb import MongoDB
    from selinon.storages.postgresql import PostgreSQL
    from selinon.storages.redis import Redis
    from selinon.storages.s3 import S3

    import selinon_django
    from selinon_django.compat import run as compat_run
    from selinon_django.storages.sql import SqlStorage

    assert SelinonTask is selinon_django.SelinonTask and StoragePool is selinon_django.StoragePool
    assert FatalTaskError is selinon_django.FatalTaskError and DataStorage is selinon_django.DataStorage
    assert run_flow is compat_run.run_flow and run_flow_selective is compat_run.run_flow_selective
    assert Trace.TASK_END == 6 and hasattr(Config, "set_config_yaml") and hasattr(Config, "set_celery_app")
    assert PostgreSQL is SqlStorage and issubclass(S3, DataStorage) and issubclass(MongoDB, DataStorage)
    assert issubclass(Redis, DataStorage) and LRU.__name__ == "LRU"
    assert fieldEqual({"a": 1}, key="a", value=1) and argsFieldEqual({"a": 1}, key="a", value=1)
    assert issubclass(FlowError, selinon_django.errors.SelinonDjangoError) and issubclass(StorageError, Exception)


def test_a_task_written_for_selinon_is_a_selinon_task() -> None:
    from selinon import FatalTaskError, SelinonTask

    class Fetch(SelinonTask):
        def run(self, node_args: dict[str, str]) -> dict[str, str]:
            if not node_args:
                raise FatalTaskError("nothing to fetch")
            return {"fetched": node_args["url"]}

    task = Fetch("flow1", "Fetch", None, "task-id", "dispatcher-id")
    assert isinstance(task, selinon_django_task_class())
    assert task.run({"url": "u"}) == {"fetched": "u"}
    with pytest.raises(FatalTaskError):
        task.run({})


def selinon_django_task_class() -> type:
    from selinon_django.task import SelinonTask

    return SelinonTask


def test_a_predicate_submodule_does_not_replace_the_predicate() -> None:
    """``selinon.predicates.fieldEqual`` is a module, and in the package the function (as in Selinon,
    ``import selinon.predicates.fieldEqual as x`` then binds the function)."""
    import selinon.predicates
    import selinon.predicates.fieldEqual

    from selinon_django.predicates import fieldEqual

    assert sys.modules["selinon.predicates.fieldEqual"].fieldEqual is fieldEqual
    assert selinon.predicates.fieldEqual is fieldEqual
    assert set(PREDICATE_NAMES) == set(selinon.predicates.__all__)


@pytest.mark.parametrize("module_name", ["selinon.dispatcher", "selinon.executor", "selinon.cli"])
def test_selinons_internal_modules_say_what_replaces_them(module_name: str) -> None:
    with pytest.raises(ModuleNotFoundError) as caught:
        importlib.import_module(module_name)
    assert INTERNAL_MODULES[module_name] in str(caught.value)
    assert caught.value.name == module_name


def test_unknown_selinon_module_is_an_ordinary_missing_module() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"No module named 'selinon\.no_such_module'$"):
        importlib.import_module("selinon.no_such_module")


def test_selinons_dispatcher_name_is_refused_with_the_reason() -> None:
    import selinon

    with pytest.raises(ImportError, match="no counterpart in selinon_django") as caught:
        exec("from selinon import Dispatcher", {})
    assert UNSUPPORTED_NAMES["Dispatcher"] in str(caught.value)
    with pytest.raises(AttributeError):
        selinon.NoSuchName  # noqa: B018


def test_no_selinon_before_the_app_is_imported_and_after_it_there_is() -> None:
    """Nothing ships a top-level ``selinon``: it exists only once selinon_django is imported."""
    before = run_python("import selinon")
    assert before.returncode != 0 and "No module named 'selinon'" in before.stderr

    after = run_python(
        "import selinon_django, sys\n"
        "from selinon import SelinonTask, StoragePool, run_flow\n"
        "from selinon.storages.s3 import S3\n"
        "print('django' in sys.modules, 'selinon_django.runtime.api' in sys.modules)\n"
    )
    assert after.returncode == 0, after.stderr
    # Selinon names are read lazily: importing them pulls in neither Django's models nor the runtime
    assert after.stdout.split() == ["False", "False"]


def test_a_real_selinon_is_used_as_it_is(tmp_path: Path) -> None:
    real = tmp_path / "selinon"
    real.mkdir()
    (real / "__init__.py").write_text("REAL = True\n")
    result = run_python(
        "import selinon_django, selinon\n"
        "from selinon_django.compat import selinon_alias_installed\n"
        "print(selinon.REAL, selinon_alias_installed())\n",
        env={"PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]


def test_the_alias_can_be_switched_off() -> None:
    result = run_python("import selinon_django\nimport selinon", env={OPT_OUT_VARIABLE: "1"})
    assert result.returncode != 0 and "No module named 'selinon'" in result.stderr


def test_management_commands_see_the_alias() -> None:
    """``manage.py`` imports the app during django.setup(), before the command's code runs."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from selinon import SelinonTask; from selinon.predicates import fieldEqual; print(SelinonTask.__module__)"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "selinon_django.task"


def test_classes_and_functions_pickle_by_their_real_names() -> None:
    from selinon import FatalTaskError
    from selinon.predicates import fieldEqual

    assert pickle.loads(pickle.dumps(fieldEqual)) is fieldEqual
    error = pickle.loads(pickle.dumps(FatalTaskError("x")))
    assert type(error) is FatalTaskError and json.dumps(str(error)) == '"x"'


def test_a_workers_autodiscovery_imports_selinon_task_modules() -> None:
    """The worker's path: demo_project/celery.py's app imports its default modules as a starting
    worker does (Django is set up by Celery's fix-up, then autodiscovery imports each app's
    ``tasks``); the moved Selinon package is an app there, and its tasks say ``from selinon import``."""
    project = REPO / "tests" / "fixtures" / "selinon_project"
    result = run_python(
        "import sys\n"
        "from demo_project.celery import app\n"
        "assert 'selinon_django' not in sys.modules\n"
        "app.loader.import_default_modules()\n"
        "print(sys.modules['urlworker.tasks'].SelinonTask.__module__)\n",
        env={"PYTHONPATH": os.pathsep.join([str(project), str(REPO)]),
             "DJANGO_SETTINGS_MODULE": "tests.integration.selinon_project_settings"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["selinon_django.task"]
