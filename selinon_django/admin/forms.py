"""Forms of the admin's actions: start a flow, upload a configuration."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from selinon_django.conf import selinon_settings
from selinon_django.config.model import SystemConfig
from selinon_django.payloads import PayloadError, parse_json


class StartFlowForm(forms.Form):
    """A flow of the current revision, its node_args as JSON and optional selective targets."""

    flow_name = forms.ChoiceField(label="Flow")
    node_args = forms.CharField(
        label="node_args (JSON)",
        required=False,
        initial="{}",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 60, "class": "selinon-code", "spellcheck": "false"}),
        help_text="Any JSON value; empty means null.",
    )
    selective_tasks = forms.CharField(
        label="Selective task names",
        required=False,
        help_text="Optional: run only what leads to these tasks (names separated by commas or spaces).",
    )
    follow_subflows = forms.BooleanField(required=False, label="Follow sub-flows (selective)")
    run_subsequent = forms.BooleanField(required=False, label="Run subsequent tasks (selective)")
    #: set by the confirmation step; the first submit only shows what will be started
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, config: SystemConfig, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = config
        flow_field = self.fields["flow_name"]
        assert isinstance(flow_field, forms.ChoiceField)
        flow_field.choices = [(name, name) for name in sorted(config.flows)]

    def clean_node_args(self) -> Any:
        text = (self.cleaned_data.get("node_args") or "").strip()
        limit = selinon_settings().MAX_NODE_ARGS_BYTES
        if len(text.encode("utf-8")) > limit:
            raise forms.ValidationError(f"node_args is larger than {limit} bytes")
        if not text:
            return None
        try:  # nesting bounded before parsing; NUL, NaN and the like refused (selinon_django.payloads)
            return parse_json(text, max_depth=selinon_settings().MAX_JSON_DEPTH)
        except PayloadError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_selective_tasks(self) -> list[str]:
        names = [name for name in re.split(r"[\s,]+", self.cleaned_data.get("selective_tasks") or "") if name]
        unknown = [name for name in names if name not in self.config.tasks and name not in self.config.flows]
        if unknown:
            raise forms.ValidationError(f"unknown task names: {', '.join(unknown)}")
        return names

    @property
    def node_args_json(self) -> str:
        return json.dumps(self.cleaned_data.get("node_args"), indent=2, sort_keys=True)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class UploadConfigForm(forms.Form):
    nodes = forms.FileField(label="Nodes file (nodes.yaml)")
    flows = MultipleFileField(
        label="Flow files",
        required=False,
        help_text="One or more flow YAML files; none if the nodes file holds the flows.",
    )
    schemas = MultipleFileField(
        label="Output schemas",
        required=False,
        help_text="The JSON Schema files the tasks' output_schema names (matched by path, or by file name).",
    )
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


MAX_UPLOAD_BYTES = 2_000_000


def read_upload(upload: Any) -> str:
    """An uploaded YAML file as text (refuses huge and non-UTF-8 files with a form error)."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise forms.ValidationError(f"{upload.name}: larger than {MAX_UPLOAD_BYTES} bytes")
    try:
        return str(upload.read().decode("utf-8"))
    except UnicodeDecodeError:
        raise forms.ValidationError(f"{upload.name}: not UTF-8 text") from None
