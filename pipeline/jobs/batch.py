"""``avatar generate``: a spec file -> one job per avatar on a backend -> the output folder and its manifest.

Layout and manifest as in ``shared/INTERFACES.md``. Every file is written to a temporary name and renamed; the
manifest is rewritten after every avatar, whatever the backend, so a killed batch leaves only whole files and a
manifest of what is done, and ``--resume`` makes each missing avatar once. A bad avatar fails with readable
lines (stderr and manifest); the others go on.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from pipeline.core.spec import AvatarRequest, SpecError, load_spec
from pipeline.core.versions import tool_versions
from pipeline.jobs.backends import make_backend
from pipeline.jobs.job import request_fingerprint
from pipeline.jobs.lock import FolderLocked, OutputLock
from pipeline.jobs.manifest import Manifest, clean_partials, is_complete, previous_entries
from pipeline.jobs.options import GenerateOptions, JobOptions


def _output_folder(out: Path) -> Path:
    """The output folder, created if needed; SpecError with one line when it cannot be (a file in the way, a path
    under a file, no permission, a read-only file system)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError([f"--out {out}: cannot create the folder ({exc.strerror or exc})"]) from None
    if not out.is_dir():
        raise SpecError([f"--out {out}: not a folder"])
    return out


def generate(spec: Path, options: GenerateOptions) -> tuple[dict[str, Any], int]:
    """Run a spec. Returns the manifest and the exit code (0 only when every avatar was made).

    Raises SpecError for bad options, an unreadable spec or an unusable output folder, FolderLocked when another
    run holds the folder, OSError when the folder stops being writable during the run."""
    options.check()
    job = options.job()
    t_start = time.perf_counter()
    requests, failures = load_spec(spec)
    out = _output_folder(Path(options.out))
    lock = OutputLock(out)
    try:
        notes = lock.acquire()
    except FolderLocked:
        raise
    except OSError as exc:  # no permission, a read-only file system
        raise SpecError([f"--out {out}: cannot write there ({exc.strerror or exc})"]) from None
    try:
        for note in notes:
            options.echo(note)
        return _run(spec, requests, failures, out, options, job, t_start)
    finally:
        lock.release()


def _run(spec: Path, requests: list[AvatarRequest], failures: list[tuple[str, list[str]]], out: Path,
         options: GenerateOptions, job: JobOptions, t_start: float) -> tuple[dict[str, Any], int]:
    """The run itself, with the folder held: resume, the backend's results into the manifest, the contact sheet."""
    from tqdm import tqdm

    clean_partials(out, [r.name for r in requests])
    previous = previous_entries(out, options.echo) if options.resume else {}
    manifest = Manifest(out, {"spec": str(spec), "versions": tool_versions(), "rig": options.rig,
                              "names": options.names, "formats": list(options.formats), "backend": options.backend,
                              "workers": options.workers, "threads": job.threads.as_dict()})
    for label, problems in failures:
        manifest.avatars[label] = {"status": "failed", "error": problems, "files": {}}
        for p in problems:
            print(p, file=sys.stderr)
    todo: list[AvatarRequest] = []
    for req in requests:
        entry = previous.get(req.name)
        if options.resume and is_complete(entry, out / req.name, request_fingerprint(req, job)):
            manifest.avatars[req.name] = {**entry, "resumed": True}
        else:
            todo.append(req)
    if options.resume:
        options.echo(f"resume: {len(requests) - len(todo)} avatars already made, {len(todo)} to make")
    manifest.write()

    workers = options.workers if len(todo) > 1 or options.backend == "ray" else 1
    backend = make_backend(job, workers, options.backend, options.ray_address) if todo else None
    bar = tqdm(total=len(todo), desc="avatars", unit="avatar", disable=not todo or not sys.stderr.isatty())
    try:
        for req in todo:
            backend.submit(req)
        for name, entry in backend.results() if backend else ():
            manifest.record(name, entry)
            bar.update(1)
            if entry["status"] == "done":
                m = entry["measurements"]
                options.echo(f"  {name:16s} {m['stature_cm']:6.1f} cm {m['mass_kg']:6.1f} kg -> {out / name}")
    finally:
        bar.close()
        if backend:
            backend.close()
    clean_partials(out, [r.name for r in requests])  # what attempts killed mid-avatar (and retried) left
    _contact_sheet(out, [r.name for r in requests], manifest.avatars)
    manifest.data["timings_s"] = {"total": round(time.perf_counter() - t_start, 3)}
    manifest.write()
    return manifest.data, (1 if manifest.failed() else 0)


def _contact_sheet(out: Path, names: list[str], avatars: dict[str, Any]) -> None:
    from PIL import Image

    from pipeline.core.files import atomic_save_png
    from pipeline.preview.contact_sheet import contact_sheet

    images, labels = [], []
    for n in names:
        entry = avatars.get(n, {})
        p = out / n / "preview.png"
        if entry.get("status") == "done" and p.exists():
            m = entry.get("measurements", {})
            images.append(Image.open(p).convert("RGB"))
            labels.append(f"{n} {m.get('stature_cm', 0):.0f} cm {m.get('mass_kg', 0):.0f} kg")
    if images:
        atomic_save_png(out / "contact_sheet.png", contact_sheet(images, labels, columns=min(len(images), 6)))
