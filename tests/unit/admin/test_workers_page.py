"""The workers and queues page without workers: a broker that does not answer, and kombu's
filesystem transport (message files counted, no worker online, runs stranded on a queue).
The page with real workers on Redis is tested in tests/integration/test_operations.py."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.test import Client, override_settings

from selinon_django.models import ConfigRevision, NodeRun
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db

PAGE = "/admin/selinon_django/workersandqueues/"

#: a broker nobody listens on, with a password the page must not show
DEAD = Celery("dead", broker="redis://:hunter2@127.0.0.1:1/0", set_as_current=False)

_BROKER_DIR = Path(tempfile.mkdtemp(prefix="selinon-fs-broker-"))
FILESYSTEM = Celery("files", broker="filesystem://", set_as_current=False)
FILESYSTEM.conf.broker_transport_options = {
    "data_folder_in": str(_BROKER_DIR), "data_folder_out": str(_BROKER_DIR),
    "control_folder": str(_BROKER_DIR / "control"), "store_processed": False,
}


@pytest.fixture(autouse=True)
def own_brokers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Celery prefers the CELERY_BROKER_URL variable to an app's own broker: these apps keep theirs."""
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)


def _settings(app: str) -> Any:
    return override_settings(SELINON_DJANGO={"CELERY_APP": f"{__name__}.{app}", "WORKERS_INSPECT_TIMEOUT": 0.2})


def test_the_page_is_on_the_admin_index_for_run_viewers(revision: ConfigRevision, make_client: Any) -> None:
    viewer = make_client("viewer", "view_flowrun")
    assert PAGE.encode() in viewer.get("/admin/").content
    assert make_client("nobody").get(PAGE).status_code == 403
    assert PAGE.encode() not in make_client("nobody2").get("/admin/").content
    assert Client().get(PAGE).status_code == 302  # to the login page


def test_a_broker_that_does_not_answer_is_said_plainly(revision: ConfigRevision, make_client: Any) -> None:
    with _settings("DEAD"):
        html = make_client("viewer", "view_flowrun").get(PAGE).content.decode()
    assert "No broker answered." in html and "Connection refused" in html
    assert "redis://:********@127.0.0.1:1/0" in html and "hunter2" not in html
    assert "nobody</strong>" not in html  # nothing is claimed about consumers
    assert "Unknown while no broker answers." in html


def test_filesystem_queue_depths_and_runs_stranded_without_workers(
    revision: ConfigRevision, make_client: Any
) -> None:
    for index in range(3):  # messages as kombu's filesystem transport names them
        (_BROKER_DIR / f"17000000{index}_{index}abc.demo_tasks.msg").write_bytes(b"{}")
    (_BROKER_DIR / "170000009_9abc.demo_io.msg").write_bytes(b"{}")
    waiting = make_run(revision, status="running", nodes=0)
    NodeRun.objects.create(id="sent-1", flow_run=waiting, name="FetchDownloadStats", status="sent")
    NodeRun.objects.create(id="sent-2", flow_run=waiting, name="FetchDownloadStats", status="retried")
    make_run(revision, status="succeeded")  # its nodes finished: not waiting
    with _settings("FILESYSTEM"):
        html = make_client("viewer", "view_flowrun").get(PAGE).content.decode()
    assert "No worker answered within 0.2 s." in html
    assert '<tr data-queue="demo_tasks">' in html
    row = html.split('<tr data-queue="demo_tasks">')[1].split("</tr>")[0]
    assert '<td class="selinon-depth">3</td>' in row and "nobody" in row
    stranded = html.split('<div class="selinon-stranded" data-queue="')[1].split("</div>")[0]
    assert stranded.startswith('demo_io"')  # FetchDownloadStats' queue
    io_row = html.split('<tr data-queue="demo_io">')[1].split("</tr>")[0]
    assert '<td class="selinon-depth">1</td>' in io_row
    assert "2 node runs of 1 run wait for a worker" in stranded
    assert f'href="/admin/selinon_django/flowrun/{waiting.pk}/change/"' in stranded
