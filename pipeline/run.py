"""Batch entry point with the arguments of ``avatar generate``.

    python pipeline/run.py --spec FILE --out DIR [options]                 (bpy module)
    blender -b --python-exit-code 1 -P pipeline/run.py -- --spec FILE --out DIR [options]

Under a Blender binary, everything after ``--`` is ours; the Blender Python must see this project's dependencies
(numpy < 2, torch): run it from the project's ``.venv`` or add its site-packages to ``PYTHONPATH``. The process
always ends with ``sys.exit(code)``: 0 when every avatar was made, 1 when some failed, 2 on usage errors (Blender
3.x also crashes at exit after torch without it).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    args = argv[argv.index("--") + 1:] if "--" in argv else argv[1:]
    if args[:1] == ["generate"]:
        args = args[1:]
    from pipeline.cli import main as cli_main

    return cli_main(["generate", *args])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
