"""The batch manifest (``DIR/manifest.json``): one entry per avatar, rewritten atomically after every avatar.

Entry: status (done|failed), error lines, structured warnings, the fingerprint of what it was made from, the
achieved measurements, files with sha256 and size, timings. ``--resume`` keeps an entry (``resumed: true``) only
when it fits the manifest's schema, is done, its fingerprint is the request's and every file is there, inside the
avatar's own folder, with its recorded checksum; entries that do not fit are reported and made again.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pipeline.core.fields import shown
from pipeline.core.files import atomic_write_json, is_partial, refuse_links, sha256_file

MANIFEST = "manifest.json"


_HEX = re.compile(r"[0-9a-f]+")
_FILE = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}/)?[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


def entry_problem(entry: Any) -> str | None:
    """Why an earlier manifest entry cannot be trusted, or None: the schema of what ``make_avatar`` records (status,
    fingerprint, files as ``{relative name: {"sha256": 64 hex, "bytes": int}}``, names at most one folder deep,
    never absolute, never ``..``)."""
    if not isinstance(entry, dict):
        return "not a table"
    if entry.get("status") not in ("done", "failed"):
        return f"status {shown(entry.get('status'))} is not 'done' or 'failed'"
    fp = entry.get("fingerprint")
    if entry["status"] == "done" and not (isinstance(fp, str) and len(fp) == 32 and _HEX.fullmatch(fp)):
        return "no fingerprint of 32 hex digits"
    files = entry.get("files", {})
    if not isinstance(files, dict):
        return "files is not a table"
    for name, info in files.items():
        if not (isinstance(name, str) and _FILE.fullmatch(name)) or ".." in name.split("/"):
            return f"file {shown(name)} is not a file of the avatar's own folder"
        if not (isinstance(info, dict) and isinstance(info.get("sha256"), str) and len(info["sha256"]) == 64
                and _HEX.fullmatch(info["sha256"]) and isinstance(info.get("bytes"), int)
                and not isinstance(info["bytes"], bool) and info["bytes"] >= 0):
            return f"file {shown(name)} lacks a sha256 of 64 hex digits or a size in bytes"
    return None


def is_complete(entry: dict | None, folder: Path, fingerprint: str) -> bool:
    """True when a (schema-checked) manifest entry is done, made from the same request, and every file is whole:
    a regular file inside the avatar's folder, not reached through a link, with the recorded size and checksum."""
    if not entry or entry_problem(entry) or entry.get("status") != "done" or entry.get("fingerprint") != fingerprint:
        return False
    if folder.is_symlink() or not folder.is_dir():
        return False
    for name, info in entry.get("files", {}).items():
        p = folder / name
        if any(q.is_symlink() for q in (p, p.parent)) or not p.is_file():
            return False
        if p.stat().st_size != info["bytes"] or sha256_file(p) != info["sha256"]:
            return False
    return bool(entry.get("files"))


def previous_entries(out: Path, report: Callable[[str], None]) -> dict[str, Any]:
    """The entries of an earlier run's manifest that fit the schema; what does not fit is reported and ignored
    (those avatars are made again)."""
    path = out / MANIFEST
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        refuse_links(path)
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        report(f"resume: {path} cannot be read ({shown(str(exc), 120)}); every avatar is made again")
        return {}
    avatars = data.get("avatars") if isinstance(data, dict) else None
    if not isinstance(avatars, dict):
        report(f"resume: {path} has no table of avatars; every avatar is made again")
        return {}
    kept = {}
    for name, entry in avatars.items():
        problem = entry_problem(entry)
        if problem:
            report(f"resume: ignoring the manifest entry {shown(name)}: {problem}")
        else:
            kept[name] = entry
    return kept


def clean_partials(out: Path, names: Iterable[str]) -> None:
    """Remove the temporary files (``files.is_partial``) that a killed run left in the output folder and in the
    avatar folders of these names (real folders only; their ``textures/`` too). Nothing else is touched."""
    folders = [out]
    for name in names:
        folder = out / name
        if not folder.is_symlink() and folder.is_dir():
            folders += [folder, folder / "textures"]
    for folder in folders:
        if folder.is_symlink() or not folder.is_dir():
            continue
        for p in folder.iterdir():
            if is_partial(p) and not p.is_symlink() and p.is_file():
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
