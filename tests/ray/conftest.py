"""One local Ray cluster (2 CPUs) per test run, started and stopped here; the CLI runs join it with
``--ray-address``."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support.ray_cluster import ray_env

RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory) -> str:
    """The address of a local cluster with 2 CPUs (the workers inherit this environment: EGL, Blender caches)."""
    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = ray_env()
    start = subprocess.run([str(RAY), "start", "--head", "--num-cpus", "2", "--port", str(port),
                            "--node-ip-address", "127.0.0.1", "--temp-dir", str(temp), "--include-dashboard",
                            "false", "--disable-usage-stats"], capture_output=True, text=True, env=env, timeout=300)
    assert start.returncode == 0, start.stdout[-2000:] + start.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(RAY), "stop", "--force"], capture_output=True, timeout=120)
