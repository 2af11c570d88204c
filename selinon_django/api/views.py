"""Viewsets of the REST API: flows, configuration revisions, runs and node runs.

Every view needs an authenticated user (token first, so an anonymous request gets a 401 with a
``WWW-Authenticate: Token`` challenge; then session) and the Django permission its action
lists in ``action_permissions``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.core.exceptions import RequestDataTooBig
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from selinon_django import run_actions
from selinon_django.api.authentication import AUTHENTICATION
from selinon_django.api.diff import revision_diff
from selinon_django.api.filters import RunFilterSet
from selinon_django.api.pagination import SelinonPagination
from selinon_django.api.parsers import BoundedJSONParser, RequestTooLarge
from selinon_django.api.permissions import (
    CHANGE_RUNS,
    LOAD_CONFIGURATION,
    START_RUNS,
    VIEW_CONFIGURATION,
    VIEW_RUNS,
    ActionPermission,
    restrict_runs,
)
from selinon_django.api.renderers import GRAPH_FORMATS, GRAPH_RENDERERS, GraphRenderer
from selinon_django.api.serializers import (
    ConfigErrorSerializer,
    FlowDetailSerializer,
    FlowSerializer,
    NodeRunSerializer,
    RevisionDetailSerializer,
    RevisionDiffSerializer,
    RevisionSerializer,
    RevisionUploadResultSerializer,
    RevisionUploadSerializer,
    RunActionSerializer,
    RunCreatedSerializer,
    RunCreateSerializer,
    RunReportSerializer,
    RunSerializer,
    TraceEventSerializer,
    flow_detail,
)
from selinon_django.api.throttling import RUNS_SCOPE, RunStartThrottle
from selinon_django.conf import selinon_settings
from selinon_django.config import ConfigurationError, SourceFile
from selinon_django.errors import ConfigIssue, SelectiveNoPathError, UnknownFlowError
from selinon_django.graph import GraphRenderError, UnknownFlowGraphError, render_flow_graph
from selinon_django.models import ConfigRevision, FlowDefinition, FlowRun, NodeRun, RunAction, TraceEventRecord
from selinon_django.revisions import load_upload
from selinon_django.run_actions import Actor
from selinon_django.runtime.api import RunStateError

GRAPH_FORMAT_PARAMETER = OpenApiParameter(
    "format", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=list(GRAPH_FORMATS),
    description="Picture format (default svg; the Accept header works too).",
)
GRAPH_RESPONSES = {
    (200, "image/svg+xml"): OpenApiTypes.BINARY,
    (200, "image/png"): OpenApiTypes.BINARY,
    (200, "text/vnd.graphviz"): OpenApiTypes.STR,
    404: OpenApiResponse(description="No such flow or run."),
    503: OpenApiResponse(
        description="Not drawn: graphs are disabled, graphviz's dot program is missing, the graph is bigger "
        "than GRAPH_MAX_NODES/GRAPH_MAX_EDGES, or dot took longer than GRAPH_RENDER_TIMEOUT (then the "
        "flow's graph is not drawn again for a few minutes)."
    ),
}


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is unavailable."
    default_code = "service_unavailable"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The run cannot do that in its current status."
    default_code = "conflict"


def api_actor(request: Request) -> Actor:
    """The client acting through the REST API (for the run's audit rows)."""
    return Actor(via=RunAction.Via.API, user=request.user)


def refuse_nul_characters(query: Mapping[str, Any], url_kwargs: Mapping[str, Any]) -> None:
    """A 400 for NUL in a query-string parameter (its name or a value), a 404 for NUL in the URL.

    PostgreSQL's text cannot hold NUL, so such a value reaching a query is a database error (a
    500), wherever it is used: a lookup by id, a filter, a session key. Checked once per request
    for every view of the API instead of per field. The 400 is keyed by the parameter, like a
    filter's field error; no object has an id with NUL in it, hence the 404.
    """
    for name, value in url_kwargs.items():
        if "\x00" in str(value):
            raise NotFound(f"No object has a {name} with a NUL character in it.")
    getlist = getattr(query, "getlist", None)
    for name in query:
        values = getlist(name) if getlist is not None else [query[name]]
        if any("\x00" in str(text) for text in (name, *values)):
            raise ValidationError({str(name).replace("\x00", "\\x00"): ["NUL characters are not allowed."]})


class SelinonAPIView(viewsets.GenericViewSet):
    """Authentication, permissions, parsing, pagination and input hygiene shared by every viewset
    of the API (the triggers' too): a new endpoint gets them by deriving from this class."""

    authentication_classes = AUTHENTICATION
    permission_classes = (ActionPermission,)
    parser_classes = (BoundedJSONParser,)
    http_method_names = ("get", "post", "head", "options")
    pagination_class = SelinonPagination
    action_permissions: Mapping[str, tuple[str, ...]] = {}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles first
        refuse_nul_characters(request.query_params, kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, RequestDataTooBig):  # Django's refusal of the body: a 413 in JSON, not its 400 page
            exc = RequestTooLarge()
        # An error of a graph endpoint is JSON, whatever picture format was asked for.
        renderer = getattr(self.request, "accepted_renderer", None)
        if renderer is None or isinstance(renderer, GraphRenderer):
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


#: a graph opened on its own in a browser runs nothing and loads nothing (the SVG is sanitised too)
GRAPH_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox"}


def _graph(
    revision: ConfigRevision, flow_name: str, fmt: str, node_states: Mapping[str, str] | None = None
) -> Response:
    """A flow of ``revision`` drawn within the configured bounds; without node states it is
    drawn once per revision and kept in the graph cache."""
    try:
        picture = render_flow_graph(
            revision.system_config(),
            flow_name,
            fmt,
            node_states,
            revision=(revision.pk, revision.content_hash),
        )
    except UnknownFlowGraphError:
        raise Http404(f"no flow {flow_name!r}") from None
    except GraphRenderError as error:
        raise ServiceUnavailable(str(error)) from error
    return Response(picture, headers=GRAPH_HEADERS)


# --- flows -------------------------------------------------------------------------------------


class FlowViewSet(SelinonAPIView):
    """Flows of the current configuration revision."""

    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    serializer_class = FlowSerializer
    action_permissions = {"default": (VIEW_CONFIGURATION,)}

    def _revision(self) -> ConfigRevision:
        revision = ConfigRevision.objects.current()
        if revision is None:
            raise Http404("no configuration is loaded yet")
        return revision

    def _url(self, name: str) -> str:
        return self.request.build_absolute_uri(reverse("selinon-flow-detail", args=[name]))

    def get_queryset(self) -> QuerySet[FlowDefinition]:
        """The flow rows of the current revision (none before one is loaded). Also what the
        browsable API asks for when it builds its filter form: without it, a 500."""
        revision = ConfigRevision.objects.current()
        rows = FlowDefinition.objects.filter(revision=revision).order_by("name", "pk")
        return rows if revision is not None else rows.none()

    @extend_schema(summary="List the flows of the current configuration revision")
    def list(self, request: Request) -> Response:
        revision = ConfigRevision.objects.current()
        page = self.paginate_queryset(self.get_queryset())
        data = [
            {"name": row.name, "revision": revision.number if revision else 0, "queue": row.queue,
             "url": self._url(row.name)}
            for row in page or []
        ]
        return self.get_paginated_response(FlowSerializer(data, many=True).data)  # type: ignore[arg-type]

    @extend_schema(summary="A flow with its nodes, edges, conditions and failures",
                   responses={200: FlowDetailSerializer})
    def retrieve(self, request: Request, name: str) -> Response:
        revision = self._revision()
        row = FlowDefinition.objects.filter(revision=revision, name=name).first()
        if row is None:
            raise Http404(f"no flow {name!r} in configuration revision {revision.number}")
        detail = flow_detail(revision, revision.system_config(), name, row.options, self._url(name))
        return Response(FlowDetailSerializer(detail).data)

    @extend_schema(summary="The flow drawn as SVG, PNG or DOT", parameters=[GRAPH_FORMAT_PARAMETER],
                   responses=GRAPH_RESPONSES)
    @action(detail=True, renderer_classes=GRAPH_RENDERERS)
    def graph(self, request: Request, name: str) -> Response:
        return _graph(self._revision(), name, request.accepted_renderer.format or "svg")


# --- revisions ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List configuration revisions, newest first"),
    retrieve=extend_schema(summary="A revision with its source files", responses={200: RevisionDetailSerializer}),
)
class RevisionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, SelinonAPIView):
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"
    serializer_class = RevisionSerializer
    action_permissions = {"default": (VIEW_CONFIGURATION,), "create": (LOAD_CONFIGURATION,)}

    def get_queryset(self) -> QuerySet[ConfigRevision]:
        queryset = ConfigRevision.objects.select_related("created_by").order_by("-number")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("sources")
        return queryset

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "retrieve":
            return RevisionDetailSerializer
        if self.action == "create":
            return RevisionUploadSerializer
        return RevisionSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        current = ConfigRevision.objects.order_by("-number").values_list("number", flat=True).first()
        context["current_number"] = current
        return context

    @extend_schema(
        summary="Load YAML as a new configuration revision",
        description=(
            "Needs the `selinon_django.add_configrevision` permission and a non-empty "
            "`SELINON_DJANGO['IMPORT_PREFIXES']`: uploaded YAML may only name modules under those "
            "prefixes in `import:` keys. A refused configuration is a 400 listing every issue; "
            "nothing is written then, nor with `dry_run`."
        ),
        request=RevisionUploadSerializer,
        responses={
            201: RevisionUploadResultSerializer,
            200: OpenApiResponse(RevisionUploadResultSerializer,
                                 description="Dry run, or the content equals the current revision."),
            400: ConfigErrorSerializer,
            403: OpenApiResponse(description="No permission, or uploads are disabled (no IMPORT_PREFIXES)."),
        },
    )
    def create(self, request: Request) -> Response:
        prefixes = selinon_settings().IMPORT_PREFIXES
        if not prefixes:
            raise PermissionDenied(
                "Loading configurations over the API is disabled: set SELINON_DJANGO['IMPORT_PREFIXES'] "
                "to the module prefixes uploaded YAML may import from."
            )
        upload = RevisionUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        files = upload.validated_data["files"]
        sources = [SourceFile(path=f["path"], role=f["role"], text=f["text"]) for f in files]
        dry_run = upload.validated_data["dry_run"]
        try:
            revision, created = load_upload(
                sources, created_by=cast(Any, request.user), comment=upload.validated_data["comment"], dry_run=dry_run
            )
        except ConfigurationError as error:
            return _config_errors(error.issues)
        context = self.get_serializer_context()
        body = {
            "created": created and not dry_run,
            "dry_run": dry_run,
            "revision": RevisionSerializer(revision, context=context).data if revision.pk else None,
        }
        return Response(body, status=status.HTTP_201_CREATED if body["created"] else status.HTTP_200_OK)

    @extend_schema(
        summary="What changed from another revision to this one",
        parameters=[OpenApiParameter("base", OpenApiTypes.INT, OpenApiParameter.QUERY,
                                     description="Revision number to compare with (default: the previous one; "
                                                 "0: an empty configuration).")],
        responses={200: RevisionDiffSerializer},
    )
    @action(detail=True)
    def diff(self, request: Request, number: str) -> Response:
        target = self.get_object()
        raw_base = request.query_params.get("base")
        if raw_base is None:
            base_number = target.number - 1
        else:
            field = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
            try:
                base_number = field.run_validation(raw_base)
            except ValidationError as error:
                raise ValidationError({"base": error.detail}) from None
        base = ConfigRevision.objects.filter(number=base_number).first() if base_number > 0 else None
        if base_number > 0 and base is None:
            raise Http404(f"no configuration revision {base_number}")
        body = {
            "base": base_number,
            "target": target.number,
            **revision_diff(base.normalised if base else {}, target.normalised),
        }
        return Response(RevisionDiffSerializer(body).data)


def _config_errors(issues: list[ConfigIssue]) -> Response:
    body = {
        "detail": "The configuration was refused; nothing was written.",
        "errors": [{"file": i.file, "path": i.path, "message": i.message} for i in issues],
    }
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


# --- runs --------------------------------------------------------------------------------------


def _node_urls(report: dict[str, Any], request: Request) -> dict[str, Any]:
    """Link each task node of the report (and of its sub-flow reports) to its node-run detail."""
    for node in report.get("nodes", []):
        if node.get("kind") == "task":
            node["url"] = request.build_absolute_uri(reverse("selinon-node-run-detail", args=[node["id"]]))
        elif "run" in node:
            _node_urls(node["run"], request)
    return report


@extend_schema_view(
    list=extend_schema(summary="List flow runs (filters and pagination), newest first"),
)
class RunViewSet(mixins.ListModelMixin, SelinonAPIView):
    lookup_value_regex = "[^/]+"
    serializer_class = RunSerializer
    filter_backends = (DjangoFilterBackend, OrderingFilter)
    filterset_class = RunFilterSet
    ordering_fields = ("created_at", "started_at", "finished_at")
    ordering = ("-created_at",)
    throttle_scope = RUNS_SCOPE
    action_permissions = {
        "default": (VIEW_RUNS,),
        "create": (START_RUNS,),
        "cancel": (CHANGE_RUNS,),
        "retry": (CHANGE_RUNS,),
    }

    def get_queryset(self) -> QuerySet[FlowRun]:
        queryset = FlowRun.objects.select_related("revision", "created_by")
        if self.action == "list":
            # a page shows none of these: a big foreach's state is megabytes, and the joined
            # revision's normalised configuration would come once per row
            queryset = queryset.defer("state", "result", "node_args", "parent", "selective",
                                      "revision__normalised", "revision__comment")
        return restrict_runs(queryset, self.request.user)

    def get_throttles(self) -> list[Any]:
        throttles = list(super().get_throttles())
        if self.action == "create":
            throttles.append(RunStartThrottle())
        return throttles

    @extend_schema(
        summary="Start a flow (optionally a selective run of some of its tasks)",
        description=(
            "Needs `selinon_django.add_flowrun`. The run starts on the current configuration revision "
            "once the request's transaction commits. Throttled by the DRF scope `selinon_runs`."
        ),
        request=RunCreateSerializer,
        responses={201: RunCreatedSerializer, 400: OpenApiResponse(description="Field errors; nothing was created.")},
    )
    def create(self, request: Request) -> Response:
        revision = ConfigRevision.objects.current()
        config = revision.system_config() if revision is not None else None
        start = RunCreateSerializer(data=request.data, context={"config": config, "request": request})
        start.is_valid(raise_exception=True)
        data = start.validated_data
        try:
            run_id = run_actions.start(
                api_actor(request), data["flow_name"], data["node_args"], data.get("task_names") or (),
                follow_subflows=data["follow_subflows"], run_subsequent=data["run_subsequent"],
            )
        except UnknownFlowError as error:
            raise ValidationError({"flow_name": [str(error)]}) from None
        except SelectiveNoPathError as error:
            raise ValidationError({"task_names": [str(error)]}) from None
        run = FlowRun.objects.select_related("revision").get(pk=run_id)
        url = request.build_absolute_uri(reverse("selinon-run-detail", args=[run_id]))
        body = {"id": run_id, "url": url, "flow_name": run.flow_name, "status": run.status,
                "revision": run.revision.number}
        return Response(RunCreatedSerializer(body).data, status=status.HTTP_201_CREATED, headers={"Location": url})

    @extend_schema(summary="The run report: the run and every node and sub-flow it started, as a tree",
                   responses={200: RunReportSerializer})
    def retrieve(self, request: Request, pk: str) -> Response:
        from selinon_django.runtime.report import run_report

        run = self.get_object()
        report = run_report(run.pk, include_timings=True)
        report.update(revision=run.revision.number, result=run.result)
        return Response(RunReportSerializer(_node_urls(report, request)).data)

    @extend_schema(summary="Cancel a run, its sub-flows and their running tasks", request=None,
                   responses={200: RunActionSerializer, 409: OpenApiResponse(description="The run already finished.")})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        try:
            revoked = run_actions.cancel(api_actor(request), run.pk)
        except RunStateError as error:
            raise Conflict(str(error)) from None
        run.refresh_from_db(fields=["status"])
        return Response({"id": run.pk, "status": run.status, "detail": f"{revoked} node runs revoked"})

    @extend_schema(summary="Retry a failed run from its failed nodes, keeping what succeeded", request=None,
                   responses={200: RunActionSerializer,
                              409: OpenApiResponse(description="The run is not a failed top-level run.")})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        try:
            run_actions.retry(api_actor(request), run.pk)
        except RunStateError as error:
            raise Conflict(str(error)) from None
        run.refresh_from_db(fields=["status"])
        return Response({"id": run.pk, "status": run.status, "detail": "retrying from the failed nodes"})

    @extend_schema(summary="Trace events of the run, oldest first", responses={200: TraceEventSerializer(many=True)})
    # not named ``trace``: Django would dispatch the HTTP TRACE method to it
    @action(detail=True, url_path="trace", url_name="trace", filter_backends=())
    def trace_events(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        events = TraceEventRecord.objects.filter(flow_run=run).order_by("created_at", "id")
        page = self.paginate_queryset(events)
        serializer = TraceEventSerializer(page, many=True)
        return self.get_paginated_response(serializer.data)

    @extend_schema(summary="The run's flow drawn with each node coloured by its state",
                   parameters=[GRAPH_FORMAT_PARAMETER], responses=GRAPH_RESPONSES)
    @action(detail=True, renderer_classes=GRAPH_RENDERERS)
    def graph(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        # The newest instance of a node decides its colour (a retried or foreach node has several).
        states = dict(NodeRun.objects.filter(flow_run=run).order_by("created_at", "pk").values_list("name", "status"))
        return _graph(run.revision, run.flow_name, request.accepted_renderer.format or "svg", states)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":  # filters describe the list; a detail is looked up by id alone
            return queryset
        return super().filter_queryset(queryset)


class NodeRunViewSet(mixins.RetrieveModelMixin, SelinonAPIView):
    """One node instance: its result, exception and traceback."""

    lookup_value_regex = "[^/]+"
    serializer_class = NodeRunSerializer
    action_permissions = {"default": (VIEW_RUNS,)}

    def get_queryset(self) -> QuerySet[NodeRun]:
        return restrict_runs(NodeRun.objects.select_related("flow_run"), self.request.user, prefix="flow_run__")

    @extend_schema(summary="A node run with its result, exception and traceback")
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)
