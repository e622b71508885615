"""Options of ``avatar generate``: what every avatar job needs (``JobOptions``, picklable, part of each avatar's
fingerprint) and how the batch runs (``GenerateOptions``: resume, workers, output). Checked at the boundary, each
problem one line naming the option and its allowed values."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.core.export_targets import EXPORT_TARGETS, FORMATS
from pipeline.core.rig_names import NAME_SETS, RIG_NAMES
from pipeline.core.skin_tone import TEXTURE_SIZES
from pipeline.core.spec import SpecError
from pipeline.jobs.threads import ThreadPolicy

PREVIEW_ENGINES = ("pyrender", "eevee", "cycles")
BACKENDS = ("local", "ray")


def _print_line(text: str) -> None:
    print(text, flush=True)


@dataclasses.dataclass(frozen=True)
class JobOptions:
    """What one avatar job makes, and where."""

    out: Path
    formats: tuple[str, ...] = ("glb",)
    rig: str = "game_engine"
    names: str = "internal"
    preview: bool = True
    refine: bool = True
    texture_size: int = 1024
    preview_engine: str = "pyrender"
    enhance: bool = False
    threads: ThreadPolicy = dataclasses.field(default_factory=ThreadPolicy)

    def influences(self) -> list[tuple[int, tuple[str, ...]]]:
        """The formats grouped by the influences per vertex they take, fewest first: [(k, formats), ...]."""
        ks = sorted({EXPORT_TARGETS[f].influences for f in self.formats})
        return [(k, tuple(f for f in self.formats if EXPORT_TARGETS[f].influences == k)) for k in ks]

    def fingerprint_fields(self) -> dict[str, Any]:
        return {"formats": list(self.formats), "rig": self.rig, "names": self.names, "preview": self.preview,
                "refine": self.refine, "texture_size": self.texture_size, "preview_engine": self.preview_engine,
                **({"enhance": True} if self.enhance else {})}


@dataclasses.dataclass(frozen=True)
class GenerateOptions(JobOptions):
    """``avatar generate``'s options: the job's, plus how the batch runs. ``threads`` follows ``workers``
    (``ThreadPolicy.for_processes``) unless given."""

    resume: bool = False
    workers: int = 1
    backend: str = "local"
    ray_address: str | None = None
    echo: Callable[[str], None] = _print_line
    threads: ThreadPolicy | None = None  # type: ignore[assignment]

    def check(self) -> None:
        """SpecError with one line per bad option."""
        problems = []
        bad = [f for f in self.formats if f not in FORMATS]
        if bad or not self.formats:
            problems.append(f"--formats: {', '.join(bad) or '(none)'} not known; allowed: {', '.join(FORMATS)}")
        for flag, value, allowed in (("--rig", self.rig, RIG_NAMES), ("--names", self.names, NAME_SETS),
                                     ("--preview-engine", self.preview_engine, PREVIEW_ENGINES)):
            if value not in allowed:
                problems.append(f"{flag} {value!r}: allowed {', '.join(allowed)}")
        if self.texture_size not in TEXTURE_SIZES:
            problems.append(f"--texture-size {self.texture_size}: allowed {', '.join(map(str, TEXTURE_SIZES))}")
        if self.enhance and self.preview_engine not in ("cycles", "eevee"):
            problems.append(f"--enhance needs --preview-engine cycles or eevee, not {self.preview_engine}")
        if self.enhance and not self.preview:
            problems.append("--enhance makes previews: drop --no-preview")
        if self.workers < 1:
            problems.append(f"--workers {self.workers}: must be at least 1")
        if self.backend not in BACKENDS:
            problems.append(f"--backend {self.backend!r}: allowed {', '.join(BACKENDS)}")
        if self.ray_address is not None and self.backend != "ray":
            problems.append("--ray-address needs --backend ray")
        if problems:
            raise SpecError(problems)

    def job(self) -> JobOptions:
        """The per-avatar options, with the thread policy for this many job processes."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(JobOptions)}
        return JobOptions(**{**fields, "out": Path(self.out), "formats": tuple(self.formats),
                             "threads": self.threads or ThreadPolicy.for_processes(self.workers)})
