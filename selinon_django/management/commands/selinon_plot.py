"""``manage.py selinon_plot``: one graph file per flow, drawn as Selinon's ``plot`` draws them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from selinon_django.management.options import (
    ENV_FLOWS,
    ENV_NODES,
    add_definition_arguments,
    add_revision_argument,
    resolve_config,
    safe_file_name,
)


class Command(BaseCommand):
    help = (
        "Plot every flow (or the ones named by --flow) as a graph file <flow>.<format> in a directory, "
        "using graphviz's dot. Definitions come from -n/-f (or "
        f"${ENV_NODES}/${ENV_FLOWS}), else from the current stored revision."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_definition_arguments(parser, fallback="the current stored revision")
        add_revision_argument(parser, "Plot")
        parser.add_argument(
            "-o", "--output-dir", required=True, metavar="DIR", help="Directory for the graphs (created if missing)."
        )
        parser.add_argument(
            "--format",
            default="svg",
            metavar="FORMAT",
            help="Any output format of graphviz's dot: svg (default), png, pdf, dot, ...",
        )
        parser.add_argument(
            "--style",
            metavar="STYLE.yaml",
            help="YAML overriding graphviz attributes per element: task, flow, condition, condition_foreach, "
            "storage, edge, store_edge, fallback_edge, fallback_true, graph "
            "(applied over SELINON_DJANGO['GRAPH_STYLE']).",
        )
        parser.add_argument(
            "--flow",
            dest="flow_names",
            action="append",
            metavar="NAME",
            help="Plot only this flow (repeatable). Default: every flow.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from selinon_django.conf import selinon_settings
        from selinon_django.graph import (
            FORMATS,
            GraphRenderError,
            GraphStyleError,
            configured_style,
            flow_digraph,
            read_style_file,
            render,
        )

        fmt = options["format"]
        if fmt not in FORMATS:
            examples = ", ".join(f for f in ("svg", "png", "pdf", "dot", "jpg") if f in FORMATS)
            raise CommandError(f"unknown graph format {fmt!r} (for example: {examples})")
        output = Path(options["output_dir"])
        if output.exists() and not output.is_dir():
            raise CommandError(f"{output}: exists and is not a directory")
        try:
            style = configured_style(read_style_file(options["style"]) if options["style"] else None)
        except GraphStyleError as error:
            raise CommandError(f"bad style: {error}") from error

        config, _revision, origin = resolve_config(options)
        names = options["flow_names"] or list(config.flows)
        unknown = [name for name in names if name not in config.flows]
        if unknown:
            raise CommandError(
                f"unknown flow {', '.join(repr(n) for n in unknown)} in {origin} "
                f"(flows: {', '.join(sorted(config.flows)) or 'none'})"
            )
        # Render everything before writing anything: a failure leaves no partial set of files.
        rendered: dict[Path, bytes] = {}
        dot_program = selinon_settings().DOT_PROGRAM
        for name in dict.fromkeys(names):
            digraph = flow_digraph(config, name, style=style)
            path = output / f"{safe_file_name(name)}.{fmt}"
            if path in rendered:  # two names that differ only in characters a file name cannot hold
                path = output / f"{safe_file_name(name)}-{len(rendered)}.{fmt}"
            try:
                rendered[path] = render(digraph, fmt, dot_program=dot_program)
            except GraphRenderError as error:
                raise CommandError(f"flow {name!r}: {error}") from error
        output.mkdir(parents=True, exist_ok=True)
        for path, data in rendered.items():
            path.write_bytes(data)
            self.stdout.write(str(path))
