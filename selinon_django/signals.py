"""Django signals sent by the runtime, for code that reacts to flows without patching them.

``flow_finished`` is sent after the transaction that records a flow run's final status
commits, so receivers see the committed rows. Keyword arguments: ``run`` (the FlowRun),
``status`` ("succeeded", "failed" or "revoked") and ``result`` (the flow's stored result).

``swept`` is sent after each pass of a worker's sweeper (the safety net that republishes lost
messages), so layers above the runtime can recover their own lost work on the same clock; a
receiver that raises is logged and the sweeper goes on.
"""
from django.dispatch import Signal

flow_finished = Signal()
swept = Signal()
