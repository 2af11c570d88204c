"""Django signals sent by the runtime, for code that reacts to flows without patching them.

``flow_finished`` is sent after the transaction that records a flow run's final status
commits, so receivers see the committed rows. Keyword arguments: ``run`` (the FlowRun),
``status`` ("succeeded", "failed" or "revoked") and ``result`` (the flow's stored result).
"""
from django.dispatch import Signal

flow_finished = Signal()
