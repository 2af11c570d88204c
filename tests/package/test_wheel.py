"""The package as a new user meets it: a wheel, a fresh virtualenv, a new project, the documentation.

Once per session: build the sdist and the wheel (``python -m build``, the wheel from the sdist, so
nothing outside the sdist reaches it) and ``twine check`` them; create a virtualenv without system
site packages and ``pip install '<wheel>[redis,postgres]'`` with no pins (the set a resolver picks
today); ``django-admin startproject mysite`` in a temporary directory outside the checkout; write
the files of the getting-started page (``docs/getting-started.md``) into it, then the settings
block of the deployment guide (``docs/how-to/deploy.md``), then the test's own connection values
(its PostgreSQL database and a Redis database of its own). Every command runs with the venv's
programs, from the project directory, with an environment that names neither the checkout nor the
test services.

The tests then run the page's commands (each one checked to be on the page): migrate, load, a real
``celery -A mysite worker``, ``selinon_run --wait``, the page's Python block in ``manage.py
shell``; and the include's API, schema and docs pages through Django's test client in a script
run by the venv's Python.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
import pytest
import redis

from tests.docs import pages
from tests.integration.workers import require_services, wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
#: the getting-started page, whole: every block of it is applied or run
INSTALL = pages.page("getting-started.md")
#: the deployment guide's production settings (PostgreSQL, connection reuse)
DEPLOYMENT = pages.section(pages.page("how-to/deploy.md"), "## Settings for production")
#: a Redis database of this test's own: the integration workers consume the default queue of theirs
BROKER_DB = 7
#: checks the getting-started settings answer (W008, DEBUG on, is a new project's own)
UNWANTED_WARNINGS = r"selinon_django\.W(00[5-79]|010)"
#: the programs and variables a command may see (nothing of the checkout or the test services)
KEPT_ENVIRONMENT = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TERM")


@dataclass(frozen=True)
class Project:
    directory: Path
    bin: Path
    env: dict[str, str]
    logs: Path

    def run(self, command: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A shell command as the documentation writes it (``python``, ``celery``... are the venv's)."""
        done = subprocess.run(
            ["bash", "-c", command], cwd=self.directory, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert done.returncode == 0, f"{command} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def python(self, code: str, timeout: float = 120) -> str:
        return self.run(f"python -c {shlex.quote(textwrap.dedent(code))}", timeout=timeout).stdout


def page_command(command: str) -> str:
    """``command`` after checking that the getting-started page gives it, word for word."""
    found = [c for b in pages.blocks(INSTALL) if b.language == "bash" for c in pages.commands(b)]
    assert command in found, f"{command!r} is not on the getting-started page: {found}"
    return command


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built from the checkout and checked by twine."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, out.iterdir())],
                   check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture(scope="session")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel and its extras installed, without requirements.txt's pins."""
    (wheel,) = dist.glob("*.whl")
    directory = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True, timeout=120)
    pip = [str(directory / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "install", "-q", f"{wheel}[redis,postgres]"], check=True, capture_output=True, timeout=600)
    return directory / "bin"


def _database_url() -> str:
    database_url, _ = require_services()
    return database_url


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    """A database of the project's own on the test PostgreSQL (dropped at the end)."""
    url = _database_url()
    name = f"selinon_package_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    yield urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def broker_url() -> str:
    """The test Redis, on a database no other test's worker reads, emptied first."""
    _, url = require_services()
    parts = urlsplit(url)
    own = urlunsplit((parts.scheme, parts.netloc, f"/{BROKER_DB}", "", ""))
    redis.Redis.from_url(own).flushdb()
    return own


def connection_settings(database_url: str, broker: str) -> str:
    """The test's own values, appended after the page's blocks."""
    parts = urlsplit(database_url)
    values = {
        "NAME": parts.path.lstrip("/"), "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""), "HOST": parts.hostname or "", "PORT": parts.port or 5432,
    }
    return f"\n\n# test only: its PostgreSQL database and Redis\nDATABASES['default'].update({values!r})\n" \
           f"CELERY_BROKER_URL = {broker!r}\n"


@pytest.fixture(scope="session")
def project(venv: Path, database: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Project:
    home = tmp_path_factory.mktemp("user")
    env = {key: os.environ[key] for key in KEPT_ENVIRONMENT if key in os.environ}
    env["PATH"] = f"{venv}:/usr/local/bin:/usr/bin:/bin"
    env["VIRTUAL_ENV"] = str(venv.parent)
    logs = Path(os.environ.get("SELINON_TEST_OUTPUT", REPO / "test-output")) / "package"
    logs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["django-admin", "startproject", "mysite"], cwd=home, env=env, check=True, timeout=60)
    directory = home / "mysite"
    written = pages.apply_files(directory, pages.blocks(INSTALL))
    assert {p.relative_to(directory).as_posix() for p in written} >= {
        "mysite/settings.py", "mysite/celery.py", "mysite/__init__.py", "mysite/urls.py",
        "mysite/flow_tasks.py", "flows/nodes.yaml", "flows/flows/greet.yaml",
    }
    deployment = [b for b in pages.blocks(DEPLOYMENT) if b.title == "mysite/settings.py"]
    assert deployment, "the deployment guide has no settings block"
    pages.apply_files(directory, deployment)
    with (directory / "mysite" / "settings.py").open("a") as settings:
        settings.write(connection_settings(database, broker_url))
    return Project(directory, venv, env, logs)


def test_the_wheel_ships_the_app_not_the_documentation(dist: Path) -> None:
    """docs/ and mkdocs.yml stay in the repository: the wheel holds the app (and its metadata) only."""
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name.startswith("selinon_django/") for name in names)
    assert [n for n in names if not n.startswith(("selinon_django/", "selinon_django-"))] == []


def test_the_resolved_install_is_complete_and_consistent(project: Project) -> None:
    assert "No broken requirements" in project.run("python -m pip check").stdout
    seen = json.loads(project.python("""
        import json, celery, kombu, selinon_django
        import kombu.transport.redis, psycopg  # the extras: Redis transport (its imports), PostgreSQL
        print(json.dumps({"celery": celery.__version__, "kombu": kombu.__version__, "file": selinon_django.__file__}))
    """))
    assert "site-packages" in seen["file"] and str(REPO) not in seen["file"]
    assert seen["celery"] != "5.7.0"  # check W004: its worker dies on a broker restart


@pytest.fixture(scope="module")
def loaded(project: Project) -> Project:
    project.run(page_command("python manage.py migrate"), timeout=180)
    loaded = project.run(page_command("python manage.py selinon_load"))
    assert "Created revision 1" in loaded.stdout and "2 tasks" in loaded.stdout, loaded.stdout + loaded.stderr
    return project


@pytest.fixture(scope="module")
def worker(loaded: Project) -> Iterator[Path]:
    """``celery -A mysite worker -l INFO`` as the getting-started page starts it; yields its log file."""
    command = page_command("celery -A mysite worker -l INFO")
    log = loaded.logs / "worker.log"
    with log.open("w") as output:
        process = subprocess.Popen(shlex.split(command), cwd=loaded.directory, env=loaded.env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: re.search(r"\bready\.", log.read_text()) or process.poll() is not None,
                   timeout=60, message=lambda: f"the worker to be ready:\n{log.read_text()}")
        assert process.poll() is None, log.read_text()
        yield log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def test_the_getting_started_flow_runs_on_a_real_worker(loaded: Project, worker: Path) -> None:
    run = loaded.run(
        page_command("""python manage.py selinon_run greet --node-args '{"name": "world"}' --wait"""),
        timeout=120,
    )
    assert "succeeded" in run.stdout, run.stdout + run.stderr
    assert "Greet" in run.stdout and "Shout" in run.stdout
    (python,) = [b for b in pages.blocks(INSTALL) if b.language == "python" and b.title is None]
    shell = loaded.run(f"python manage.py shell -c {shlex.quote(python.text)}", timeout=120)
    printed = shell.stdout.strip().splitlines()  # what AsyncResult(run_id).get() returned
    assert printed, shell.stderr
    seen = loaded.python("""
        import json, os
        os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
        import django
        django.setup()
        from selinon_django.models import FlowRun, NodeRun
        print(json.dumps({
            "runs": sorted(FlowRun.objects.values_list("status", flat=True)),
            "nodes": sorted(NodeRun.objects.filter(status="succeeded").values_list("name", flat=True)),
            "last": FlowRun.objects.latest("created_at").result,
        }))
    """)
    runs = json.loads(seen.strip().splitlines()[-1])
    assert runs == {"runs": ["succeeded", "succeeded"], "nodes": ["Greet", "Greet", "Shout", "Shout"],
                    "last": ast.literal_eval(printed[-1])}
    assert set(runs["last"]["finished_nodes"]) == {"Greet", "Shout"}  # Selinon's flow result
    # the worker's own report: DEBUG is on in a new project, the rest follows the page
    log = worker.read_text()
    assert "selinon_django.W008" in log
    assert not re.search(UNWANTED_WARNINGS, log), log


def test_the_include_serves_the_api_its_schema_and_docs(loaded: Project) -> None:
    token = loaded.run("python manage.py createsuperuser --noinput --username alice --email a@example.com "
                       "&& python manage.py drf_create_token alice").stdout.splitlines()[-1].split()[2]
    seen = loaded.python(f"""
        import json, os
        os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
        import django
        django.setup()
        from django.conf import settings
        settings.ALLOWED_HOSTS = ["testserver"]
        from django.contrib.auth.models import User
        from django.test import Client

        pages = ["/selinon/api/", "/selinon/api/flows/", "/selinon/api/runs/", "/selinon/api/schema/",
                 "/selinon/api/docs/", "/selinon/api/redoc/"]
        anonymous = Client()
        session = Client()
        session.force_login(User.objects.get(username="alice"))
        token = Client(HTTP_AUTHORIZATION="Token {token}")
        print(json.dumps({{
            "anonymous": [anonymous.get(p).status_code for p in pages],
            "session": [session.get(p).status_code for p in pages],
            "token": [token.get(p).status_code for p in pages],
            "flows": token.get("/selinon/api/flows/").content.decode(),
            "docs": "/selinon/api/schema/" in session.get("/selinon/api/docs/").content.decode(),
        }}))
    """)
    result = json.loads(seen.strip().splitlines()[-1])
    assert result["anonymous"] == [401] * 6
    assert result["session"] == [200] * 6
    assert result["token"] == [200] * 6
    assert "greet" in result["flows"]
    assert result["docs"]
    check = loaded.run("python manage.py check --deploy", check=False)
    assert "selinon_django.W008" in check.stderr + check.stdout
    assert not re.search(UNWANTED_WARNINGS, check.stderr + check.stdout)


SELINON_PROJECT = REPO / "tests" / "fixtures" / "selinon_project"


def test_an_unchanged_selinon_project_runs_from_the_installed_wheel(loaded: Project, tmp_path: Path) -> None:
    """Issue 14, "Move from Selinon" (docs/how-to/move-from-selinon.md), as a Selinon team meets it:
    only the wheel is installed (no ``selinon`` distribution, no checkout), the team's modules are
    copied unchanged into the new project, its settings get the guide's two lines, and its flow
    runs on a real worker of that project, started with ``selinon.run_flow(...).get()`` as the
    team's code does. Runs last: it loads a second revision into the project."""
    shutil.copytree(SELINON_PROJECT / "urlworker", loaded.directory / "urlworker")
    with (loaded.directory / "mysite" / "settings.py").open("a") as settings:
        settings.write(
            '\nINSTALLED_APPS += ["urlworker"]\n'
            'SELINON_DJANGO["PREDICATES_MODULES"] = ["urlworker.predicates"]\n'
        )
    results = tmp_path / "results"
    results.mkdir()
    env = {**loaded.env, "URLWORKER_QUEUE": "urlworker_tasks", "URLWORKER_DISPATCHER_QUEUE": "urlworker_dispatcher",
           "URLWORKER_RESULTS_DIR": str(results)}
    project = Project(loaded.directory, loaded.bin, env, loaded.logs)
    alias = project.python("""
        import selinon_django, selinon, selinon.predicates
        print(selinon.__name__, selinon.SelinonTask is selinon_django.SelinonTask)
    """)
    assert alias.split() == ["selinon", "True"]
    load = project.run(f"python manage.py selinon_load -n {SELINON_PROJECT / 'nodes.yaml'} "
                       f"-f {SELINON_PROJECT / 'flows.yaml'}")
    assert "Created revision 2" in load.stdout, load.stdout + load.stderr
    (tmp_path / "index.html").write_text("<html><body><h1>Moving</h1><p>from Selinon</p></body></html>")
    urls = [f"file://{tmp_path / 'index.html'}"]
    log = project.logs / "selinon-worker.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            ["celery", "-A", "mysite", "worker", "-l", "INFO", "-Q", "urlworker_dispatcher,urlworker_tasks",
             "-c", "2", "-n", f"urlworker-{uuid.uuid4().hex[:6]}@%h"],
            cwd=project.directory, env=project.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until(lambda: re.search(r"\bready\.", log.read_text()) or process.poll() is not None,
                   timeout=60, message=lambda: f"the worker to be ready:\n{log.read_text()}")
        assert process.poll() is None, log.read_text()
        seen = project.python(f"""
            import json, os
            os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
            import django
            django.setup()
            import selinon
            handle = selinon.run_flow("crawl", {{"urls": {urls!r}}})
            state = handle.get(timeout=90)
            print(json.dumps({{"id": handle.id, "finished": sorted(state["finished_nodes"]),
                               "failed": state["failed_nodes"]}}))
        """, timeout=150)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    state = json.loads(seen.strip().splitlines()[-1])
    assert state["finished"] == ["CollectUrls", "Report", "fetch_page"], log.read_text()
    assert state["failed"] == {}
    assert sorted(p.name.split("-")[0] for p in results.glob("*.json")) == sorted(
        ["CollectUrls", "FetchPage", "CountWords", "Report"])
