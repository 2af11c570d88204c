"""The Celery runtime: the dispatcher task, the task envelope, the outbox and the public API.

Layout (a reader finds each piece by name):

- :mod:`.celery_app` - which Celery app publishes (``SELINON_DJANGO["CELERY_APP"]`` or current);
- :mod:`.celery_tasks` - the two Celery tasks, thin wrappers over :mod:`.dispatcher` and
  :mod:`.envelope`, registered under stable names;
- :mod:`.messages` - the kwargs of dispatcher and task messages;
- :mod:`.outbox` - messages written in the transaction that causes them, published after commit;
- :mod:`.execution` - one attempt of one ``SelinonTask`` (no Celery, no database: shared with
  the in-process executor);
- :mod:`.ports` - the engine's :class:`~selinon_django.engine.ports.Ports` backed by rows;
- :mod:`.dispatcher` - one dispatcher step of a flow run in one transaction;
- :mod:`.envelope` - claim, run and record one node attempt on a worker;
- :mod:`.wakeups` - how a finished node wakes its flow (coalesced, or stepped inline);
- :mod:`.tracing` - trace events as rows; :mod:`.report` - the run report tree;
- :mod:`.sweeper` - republishes lost messages and fires safety-net wake-ups;
- :mod:`.api` - ``run_flow``, ``run_flow_selective``, ``cancel_flow``, ``retry_flow``.
"""
