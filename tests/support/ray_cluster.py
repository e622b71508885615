"""The environment of the test suite's Ray cluster and of the runs that join it."""

from __future__ import annotations

import os


def ray_env() -> dict[str, str]:
    """A private cluster on loopback, so Ray's token authentication is off (a real cluster keeps it on; see Ray's
    documentation on ray-security); EGL for the workers' previews, no usage statistics."""
    return dict(os.environ, PYOPENGL_PLATFORM="egl", RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
