"""Safe file output: every file is written to a temporary name of ours in its folder, then renamed into place.

Temporary names are ``.<final name>.<run id>.partial<final suffix>`` (the suffix again at the end, because
exporters pick their format from it), where the run id is 8 hex digits drawn once per process: what a killed run
leaves behind is recognisable as ours (``is_partial``) and nothing else ever matches. Symbolic links are never
written through: a final path that is a link is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

RUN_ID = secrets.token_hex(4)
_PARTIAL = re.compile(r"\.(?P<final>.+)\.(?P<run>[0-9a-f]{8})\.partial(?P<suffix>\.[A-Za-z0-9]+)?")


class UnsafePathError(OSError):
    """A path the pipeline refuses to write through (a symbolic link)."""


def partial_path(path: Path) -> Path:
    """The temporary name ``path`` is written under before it is renamed into place."""
    path = Path(path)
    return path.with_name(f".{path.name}.{RUN_ID}.partial{path.suffix}")


def is_partial(path: Path) -> bool:
    """True for a temporary file this pipeline writes (of any run): ``.<final>.<8 hex>.partial[<suffix>]``."""
    m = _PARTIAL.fullmatch(Path(path).name)
    return bool(m) and (m["suffix"] or "") == Path(m["final"]).suffix


def refuse_links(*paths: Path) -> None:
    """UnsafePathError if any of the paths is a symbolic link (files are written next to, never through, links)."""
    for p in paths:
        if Path(p).is_symlink():
            raise UnsafePathError(f"{p} is a symbolic link: outputs are never written through links")


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_links(path)
    tmp = partial_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: Path, obj: Any) -> Path:
    return atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n").encode())


def atomic_save_png(path: Path, image: Any) -> Path:
    """Save a PIL image as PNG atomically."""
    from io import BytesIO

    buf = BytesIO()
    image.save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _jsonable(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
