"""A real Milvus standalone server for the tests: the ``milvus`` PyPI package (Milvus 2.3.5 with embedded etcd),
its proxy on a free loopback port, ready when a client gets its version, stopped by its process id.

The package's ``milvus-server`` is a Python wrapper that unpacks the binaries into the data folder on first start
and runs ``<data>/bin/milvus run standalone`` as its child; SIGINT to the wrapper stops the child (killing only
the child leaves the wrapper waiting forever), and the new session it runs in is killed whole afterwards."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MilvusUnavailable(Exception):
    """No Milvus server can run here (the package is missing, or the server did not start)."""


@contextlib.contextmanager
def running_milvus(data_dir: Path, start_timeout: float = 240.0) -> Iterator[str]:
    """The URI of a Milvus server with its data in ``data_dir``, for the duration of the block."""
    if importlib.util.find_spec("milvus") is None:
        raise MilvusUnavailable("the milvus package is not installed (pip install milvus==2.3.5)")
    if _listening(ETCD_PORT):
        raise MilvusUnavailable(
            f"127.0.0.1:{ETCD_PORT} is taken (another Milvus server runs here; its embedded etcd always listens there)"
        )
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys, milvus; sys.exit(milvus.main())", "--data", str(data_dir),
             "--proxy-port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_interrupt_when_parent_dies,
        )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(process, uri, port, start_timeout, log_path)
        yield uri
    finally:
        _stop(process)


ETCD_PORT = 2379


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _interrupt_when_parent_dies() -> None:
    """(in the child, before exec) SIGINT when the test process dies, killed or not: the wrapper then stops the
    server, which would otherwise hold the host's one etcd port after a killed test run."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG


def _wait_until_ready(process: subprocess.Popen, uri: str, port: int, timeout: float, log_path: Path) -> None:
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(OSError, MilvusException):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            client = MilvusClient(uri=uri, timeout=5)
            try:
                client.get_server_version()
                return
            finally:
                client.close()
        time.sleep(0.5)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
    _stop(process)
    raise MilvusUnavailable(f"the Milvus server did not become ready in {timeout:.0f} s; its log ends:\n{tail}")


def _stop(process: subprocess.Popen) -> None:
    """SIGINT to the wrapper (it stops its child), then whatever is left of its session killed."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
