"""The trace events, with Selinon's names and numbers.

The numbers are Selinon's own so that trace functions written for Selinon (which compare
``event == Trace.FLOW_FAILURE``) and stored trace rows keep their meaning. ``EVENT_DETAILS``
is the contract between whoever emits an event and whoever consumes it: the keys an emitter
passes in ``details``. Entries marked documented come straight from the ``selinon.trace``
table; the others follow the same vocabulary so consumers can rely on them.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class Trace:
    """Event numbers (class attributes) and helpers to name them."""

    DISPATCHER_WAKEUP = 0
    FLOW_SCHEDULE = 1
    FLOW_START = 2
    TASK_SCHEDULE = 3
    TASK_START = 4
    SUBFLOW_SCHEDULE = 5
    TASK_END = 6
    NODE_SUCCESSFUL = 7
    TASK_DISCARD_RESULT = 8
    TASK_FAILURE = 9
    TASK_RETRY = 10
    FLOW_FAILURE = 11
    DISPATCHER_FAILURE = 12
    NODE_FAILURE = 13
    FALLBACK_START = 14
    DISPATCHER_RETRY = 15
    FLOW_END = 16
    STORAGE_CONNECT = 17
    STORAGE_DISCONNECT = 18
    STORAGE_RETRIEVE = 19
    STORAGE_RETRIEVED = 20
    STORAGE_STORE = 21
    STORAGE_STORED = 22
    EDGE_COND_FALSE = 23
    FOREACH_RESULT = 24
    NODE_STATE_CACHE_GET = 25
    NODE_STATE_CACHE_ADD = 26
    NODE_STATE_CACHE_MISS = 27
    NODE_STATE_CACHE_HIT = 28
    TASK_RESULT_CACHE_GET = 29
    TASK_RESULT_CACHE_ADD = 30
    TASK_RESULT_CACHE_MISS = 31
    TASK_RESULT_CACHE_HIT = 32
    SELECTIVE_OMIT_EDGE = 33
    SELECTIVE_OMIT_NODE = 34
    SELECTIVE_RUN_FUNC = 35
    SELECTIVE_TASK_REUSE = 36
    STORAGE_STORE_ERROR = 37
    STORAGE_OMIT_STORE_ERROR = 38
    FALLBACK_COND_FALSE = 39
    FALLBACK_COND_TRUE = 40
    NODE_STATE_CACHE_ISSUE = 41
    TASK_RESULT_CACHE_ISSUE = 42
    STORAGE_ISSUE = 43
    RESULT_BACKEND_ISSUE = 44
    FLOW_RETRY = 45
    MIGRATION = 46
    MIGRATION_SKEW = 47
    MIGRATION_TAINTED_FLOW = 48
    MIGRATION_ERROR = 49
    EAGER_FAILURE = 50
    STORAGE_DELETE = 51
    STORAGE_DELETED = 52

    #: events logged as warnings (Selinon's tuple, same order)
    WARN_EVENTS = (13, 8, 10, 9, 11, 38, 41, 42, 43, 44, 45, 47, 49, 50)

    @classmethod
    def event2str(cls, event: int) -> str:
        """The constant's name for an event number (``"UNKNOWN_<n>"`` for a foreign number)."""
        return EVENT_NAMES.get(event, f"UNKNOWN_{event}")

    @classmethod
    def str2event(cls, name: str) -> int:
        """The number of an event name; ``KeyError`` when there is no such event."""
        return EVENT_NUMBERS[name]

    @classmethod
    def is_warning(cls, event: int) -> bool:
        return event in cls.WARN_EVENTS


EVENT_NUMBERS: Mapping[str, int] = MappingProxyType(
    {name: value for name, value in vars(Trace).items() if name.isupper() and isinstance(value, int)}
)
EVENT_NAMES: Mapping[int, str] = MappingProxyType({value: name for name, value in EVENT_NUMBERS.items()})

_NODE = ("flow_name", "dispatcher_id", "node_args", "parent", "selective")
_TASK = ("flow_name", "task_name", "task_id", "dispatcher_id", "parent", "node_args")
_STORAGE = ("flow_name", "task_name", "task_id", "storage_name")
_DISPATCHER = ("flow_name", "dispatcher_id", "node_args", "parent", "queue", "selective", "retry", "state")

#: Keys of ``details`` per event. The first seven entries are the ones the Selinon table documents;
#: the rest extend the same vocabulary.
EVENT_DETAILS: Mapping[int, tuple[str, ...]] = MappingProxyType(
    {
        Trace.FLOW_SCHEDULE: ("dispatcher_id", "selective", "queue", "node_args", "flow_name"),
        Trace.DISPATCHER_WAKEUP: ("dispatcher_id", "state", "selective", "retry", "queue", "node_args", "flow_name"),
        Trace.FLOW_START: ("dispatcher_id", "selective", "queue", "node_args", "flow_name"),
        Trace.TASK_SCHEDULE: (
            "countdown", "condition_str", "task_name", "queue", "node_args", "dispatcher_id", "parent",
            "task_id", "selective", "foreach_str", "flow_name", "selective_edge",
        ),
        Trace.DISPATCHER_RETRY: (
            "dispatcher_id", "state", "selective", "retry", "queue", "node_args", "state_dict", "flow_name", "parent",
        ),
        Trace.STORAGE_CONNECT: ("storage_name",),
        Trace.SELECTIVE_RUN_FUNC: (
            "dispatcher_id", "parent", "selective", "node_args", "flow_name", "result", "node_name",
        ),
        # --- the same vocabulary for the events whose keys the table leaves blank ---
        Trace.TASK_START: _TASK,
        Trace.SUBFLOW_SCHEDULE: (
            "countdown", "condition_str", "child_flow_name", "child_dispatcher_id", "queue", "node_args",
            "dispatcher_id", "parent", "selective", "foreach_str", "flow_name", "selective_edge",
        ),
        Trace.TASK_END: (*_TASK, "storage_name"),
        Trace.NODE_SUCCESSFUL: (*_NODE, "node_name", "node_id"),
        Trace.TASK_DISCARD_RESULT: (*_TASK, "result"),
        Trace.TASK_FAILURE: (*_TASK, "what", "retried_count"),
        Trace.TASK_RETRY: (*_TASK, "what", "retried_count", "countdown", "user_retry"),
        Trace.FLOW_FAILURE: (*_DISPATCHER, "will_retry"),
        Trace.DISPATCHER_FAILURE: (*_DISPATCHER, "what"),
        Trace.NODE_FAILURE: (*_NODE, "node_name", "node_id", "what"),
        Trace.FALLBACK_START: ("flow_name", "dispatcher_id", "nodes", "fallback"),
        Trace.FLOW_END: (*_DISPATCHER, "finished_nodes"),
        Trace.STORAGE_DISCONNECT: ("storage_name",),
        Trace.STORAGE_RETRIEVE: _STORAGE,
        Trace.STORAGE_RETRIEVED: _STORAGE,
        Trace.STORAGE_STORE: (*_STORAGE, "node_args"),
        Trace.STORAGE_STORED: (*_STORAGE, "node_args", "record_id"),
        Trace.EDGE_COND_FALSE: ("flow_name", "dispatcher_id", "nodes_from", "nodes_to", "condition_str", "parent"),
        Trace.FOREACH_RESULT: ("flow_name", "dispatcher_id", "nodes_from", "nodes_to", "foreach_str", "result"),
        Trace.NODE_STATE_CACHE_GET: ("flow_name", "node_name", "node_id", "cache_name"),
        Trace.NODE_STATE_CACHE_ADD: ("flow_name", "node_name", "node_id", "cache_name"),
        Trace.NODE_STATE_CACHE_MISS: ("flow_name", "node_name", "node_id", "cache_name"),
        Trace.NODE_STATE_CACHE_HIT: ("flow_name", "node_name", "node_id", "cache_name"),
        Trace.NODE_STATE_CACHE_ISSUE: ("flow_name", "node_name", "node_id", "cache_name", "what"),
        Trace.TASK_RESULT_CACHE_GET: (*_STORAGE, "cache_name"),
        Trace.TASK_RESULT_CACHE_ADD: (*_STORAGE, "cache_name"),
        Trace.TASK_RESULT_CACHE_MISS: (*_STORAGE, "cache_name"),
        Trace.TASK_RESULT_CACHE_HIT: (*_STORAGE, "cache_name"),
        Trace.TASK_RESULT_CACHE_ISSUE: (*_STORAGE, "cache_name", "what"),
        Trace.SELECTIVE_OMIT_EDGE: ("flow_name", "dispatcher_id", "nodes_from", "nodes_to", "selective"),
        Trace.SELECTIVE_OMIT_NODE: ("flow_name", "dispatcher_id", "node_name", "selective"),
        Trace.SELECTIVE_TASK_REUSE: ("flow_name", "dispatcher_id", "task_name", "task_id", "selective"),
        Trace.STORAGE_STORE_ERROR: (*_STORAGE, "node_args", "record_id"),
        Trace.STORAGE_OMIT_STORE_ERROR: (*_STORAGE, "node_args", "reason"),
        Trace.FALLBACK_COND_FALSE: ("flow_name", "dispatcher_id", "nodes", "fallback", "condition_str"),
        Trace.FALLBACK_COND_TRUE: ("flow_name", "dispatcher_id", "nodes", "fallback", "condition_str"),
        Trace.STORAGE_ISSUE: ("flow_name", "dispatcher_id", "what"),
        Trace.RESULT_BACKEND_ISSUE: ("flow_name", "dispatcher_id", "what"),
        Trace.FLOW_RETRY: (*_DISPATCHER, "retried_count", "countdown"),
        Trace.MIGRATION: ("flow_name", "dispatcher_id", "migration_version", "latest_migration_version"),
        Trace.MIGRATION_SKEW: ("flow_name", "dispatcher_id", "migration_version", "latest_migration_version"),
        Trace.MIGRATION_TAINTED_FLOW: ("flow_name", "dispatcher_id", "tainted_flow_strategy", "migration_version"),
        Trace.MIGRATION_ERROR: ("flow_name", "dispatcher_id", "what"),
        Trace.EAGER_FAILURE: ("flow_name", "dispatcher_id", "node_name", "node_id"),
        Trace.STORAGE_DELETE: _STORAGE,
        Trace.STORAGE_DELETED: _STORAGE,
    }
)

#: the events whose keys the Selinon table documents (the rest of EVENT_DETAILS is ours)
DOCUMENTED_DETAILS: frozenset[int] = frozenset(
    {
        Trace.FLOW_SCHEDULE, Trace.DISPATCHER_WAKEUP, Trace.FLOW_START, Trace.TASK_SCHEDULE,
        Trace.DISPATCHER_RETRY, Trace.STORAGE_CONNECT, Trace.SELECTIVE_RUN_FUNC,
    }
)
