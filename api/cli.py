"""``rag serve``: the service's command, which the ``rag`` CLI loads through the ``rag.commands`` entry point (so
the library never imports the service)."""

from __future__ import annotations

from pathlib import Path

import click

from rag.cli import fail_cleanly, index_option
from rag.settings import Settings


@click.command("serve")
@index_option
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
@click.pass_obj
@fail_cleanly
def serve_command(settings: Settings, index_dir: Path | None, host: str | None, port: int | None) -> None:
    """Serve the HTTP API, the OpenAI-compatible chat endpoint and the search page."""
    import uvicorn

    from api.app import create_app
    from rag.runtime import limit_service_threads
    from rag.search.searcher import Searcher

    host, port = host or settings.host, port or settings.port
    _check_port_free(host, port)  # before the model loads, in one line
    limit_service_threads(settings)  # one torch thread per search: concurrent requests must not contend
    searcher = Searcher.open(settings, index_dir)  # a missing or mismatched index fails here, in one line
    app = create_app(settings, searcher=searcher)
    click.echo(f"Serving {searcher.manifest.counts['chunks']} chunks on http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _check_port_free(host: str, port: int) -> None:
    """A port already taken is one line with what to do, not a uvicorn traceback after "Serving ..."."""
    import socket

    from rag.errors import InvalidInputError

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise InvalidInputError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); another program may be using the port: "
            "choose another with --port"
        ) from exc


@click.command("mcp")
@index_option
@click.pass_obj
@fail_cleanly
def mcp_command(settings: Settings, index_dir: Path | None) -> None:
    """Serve search over MCP on stdin/stdout, for desktop clients (Claude Desktop) that start it themselves."""
    from contextlib import nullcontext

    from api.mcp_tools import build_mcp_server
    from rag.runtime import configure_process
    from rag.search.searcher import Searcher

    configure_process(settings)
    with Searcher.open(settings, index_dir) as searcher:  # a missing index fails here, in one line on stderr
        build_mcp_server(lambda: nullcontext(searcher)).run("stdio")
