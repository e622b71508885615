"""The batch manifest (``DIR/manifest.json``): one entry per avatar, rewritten atomically after every avatar.

Entry: status (done|failed), error lines, structured warnings, the fingerprint of what it was made from, the
achieved measurements, files with sha256 and size, timings. ``--resume`` keeps an entry (``resumed: true``) only
when it is done, its fingerprint is the request's and every file is there with its recorded checksum.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pipeline.core.files import atomic_write_json, sha256_file

MANIFEST = "manifest.json"


def is_complete(entry: dict | None, folder: Path, fingerprint: str) -> bool:
    """True when a manifest entry is done, made from the same request, and every file is whole."""
    if not entry or entry.get("status") != "done" or entry.get("fingerprint") != fingerprint:
        return False
    for name, info in entry.get("files", {}).items():
        p = folder / name
        if not p.is_file() or p.stat().st_size != info["bytes"] or sha256_file(p) != info["sha256"]:
            return False
    return bool(entry.get("files"))


def previous_entries(out: Path) -> dict[str, Any]:
    """The avatars of an earlier run's manifest ({} when there is none or it cannot be read)."""
    try:
        data = json.loads((out / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    avatars = data.get("avatars") if isinstance(data, dict) else None
    return avatars if isinstance(avatars, dict) else {}


def clean_partials(out: Path) -> None:
    """Remove temporary files a killed run left in the avatar folders (every file is written under a temporary
    name first, so these are never whole results)."""
    for p in list(out.glob("*/.*.partial*")) + list(out.glob("*/.*.tmp")) + list(out.glob(".*.tmp")):
        p.unlink(missing_ok=True)


class Manifest:
    """The manifest of one run: header (spec, versions, options, thread policy) and the avatars' entries."""

    def __init__(self, out: Path, header: dict[str, Any]) -> None:
        self.path = out / MANIFEST
        self.data: dict[str, Any] = {**header, "avatars": {}}

    @property
    def avatars(self) -> dict[str, Any]:
        return self.data["avatars"]

    def write(self) -> None:
        atomic_write_json(self.path, self.data)

    def record(self, name: str, entry: dict[str, Any]) -> None:
        """Add or replace one avatar's entry, print its problems to stderr, and rewrite the file."""
        self.avatars[name] = entry
        for line in entry.get("error") or []:
            print(line, file=sys.stderr)
        for w in entry.get("warnings") or []:
            print(f"warning: {w['message']}", file=sys.stderr)
        self.write()

    def failed(self) -> list[str]:
        return [k for k, v in self.avatars.items() if v["status"] != "done"]
