"""Network probes shared by the clients of remote services (a Ray cluster, a Milvus server)."""

from __future__ import annotations

import socket


def unreachable(host: str, port: int, timeout: float) -> str | None:
    """Why nothing answers at ``host:port`` within ``timeout`` seconds (the system's reason), or None when
    something listens: the Ray and Milvus clients retry a dead address for minutes before saying so."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return str(exc.strerror or exc)
    return None
