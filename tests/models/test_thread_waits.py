"""torch's OpenMP workers sleep when idle (set before torch loads), unless the environment chose otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = "import os, models, torch; print(os.environ['OMP_WAIT_POLICY'])"


def _policy(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True,
                          timeout=120).stdout.strip()


def test_idle_openmp_threads_sleep_by_default_and_the_environment_wins():
    assert _policy(None) == "PASSIVE"
    assert _policy("ACTIVE") == "ACTIVE"
