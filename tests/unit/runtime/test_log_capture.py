"""The capture itself, with a sink that records batches: streaming by the flusher thread while the
task still runs (and logs nothing more), batching, other threads left alone, no sink no cost."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from selinon_django.runtime import log_capture
from selinon_django.runtime.log_capture import CaptureSettings, Line, Target

task_log = logging.getLogger("tests.capture.task")


class RecordingSink:
    def __init__(self, settings: CaptureSettings) -> None:
        self.conf = settings
        self.batches: list[tuple[str, int, list[Line], str]] = []
        self.written = threading.Event()
        self.opened: list[str] = []

    def settings(self) -> CaptureSettings | None:
        return self.conf

    def open(self, node_id: str, run_id: str) -> Target | None:
        self.opened.append(node_id)
        return Target(attempt=2, kept_bytes=0) if node_id != "unknown" else None

    def write(self, node_id: str, run_id: str, attempt: int, lines: list[Line], size: int) -> None:
        self.batches.append((node_id, attempt, lines, threading.current_thread().name))
        self.written.set()

    def release(self, in_flusher: bool) -> None:
        pass


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingSink]:
    recording = RecordingSink(CaptureSettings(level=logging.INFO, max_bytes=100_000, flush_seconds=0.2))
    monkeypatch.setattr(log_capture, "_sink", recording)
    monkeypatch.setattr(task_log, "level", logging.DEBUG)
    yield recording


@pytest.fixture
def flusher(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's process: batches are written by the flusher thread (this test's own one)."""
    monkeypatch.setattr(log_capture, "_flusher_allowed", True)
    monkeypatch.setattr(log_capture, "_flusher", None)


def test_the_flusher_writes_a_line_while_the_task_still_runs(sink: RecordingSink, flusher: None) -> None:
    with log_capture.capturing("node-1", "run-1"):
        task_log.info("started the long part")
        # the task logs nothing more; the flusher writes the line once it waited flush_seconds
        assert sink.written.wait(timeout=10), "the line was not written while the task ran"
        node, attempt, lines, thread = sink.batches[0]
        assert (node, attempt, [line[3] for line in lines]) == ("node-1", 2, ["started the long part"])
        assert thread == "selinon-task-logs"
        sink.written.clear()
        task_log.warning("finished the long part")
    # the rest is written by the task's thread when the attempt ends
    assert [[line[3] for line in batch[2]] for batch in sink.batches] == [
        ["started the long part"], ["finished the long part"]
    ]
    assert sink.batches[1][3] == threading.current_thread().name


def test_without_a_flusher_lines_wait_for_a_batch_or_the_end(sink: RecordingSink) -> None:
    with log_capture.capturing("node-1", "run-1"):
        for index in range(log_capture.BATCH_LINES + 5):
            task_log.info("line %d", index)
        assert len(sink.batches) == 1 and len(sink.batches[0][2]) == log_capture.BATCH_LINES
    assert [len(batch[2]) for batch in sink.batches] == [log_capture.BATCH_LINES, 5]


def test_records_of_other_threads_and_below_the_level_are_not_captured(sink: RecordingSink) -> None:
    with log_capture.capturing("node-1", "run-1"):
        task_log.debug("too detailed")
        other = threading.Thread(target=lambda: task_log.warning("from another thread"))
        other.start()
        other.join()
        task_log.info("mine")
    assert [[line[3] for line in batch[2]] for batch in sink.batches] == [["mine"]]


def test_a_node_without_a_target_keeps_nothing_and_opens_once(sink: RecordingSink) -> None:
    with log_capture.capturing("unknown", "run-1"):
        task_log.info("one")
        task_log.info("two")
    assert sink.batches == [] and sink.opened == ["unknown"]


def test_a_silent_attempt_never_opens_its_target(sink: RecordingSink, flusher: None) -> None:
    with log_capture.capturing("node-1", "run-1"):
        pass
    assert sink.opened == [] and sink.batches == []
    assert log_capture._flusher is None  # no thread started for a process whose tasks log nothing


def test_a_failing_sink_loses_lines_not_the_task(sink: RecordingSink, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise ConnectionError("database gone")

    monkeypatch.setattr(sink, "write", broken)
    with log_capture.capturing("node-1", "run-1"):
        task_log.info("lost")
    # no exception: the attempt goes on and ends as it would without logs


def test_without_a_sink_nothing_is_captured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_capture, "_sink", None)
    with log_capture.capturing("node-1", "run-1") as capture:
        task_log.warning("nowhere")
    assert capture is None
