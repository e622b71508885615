"""Decoding in a separate process, for Blender Pythons without torch (the add-on's worker path).

Protocol (one shot): a JSON object on stdin, ``{"requests": [spec entry, ...], "refine": true}``; on stdout one
JSON object, ``{"body_sha256": ..., "coefficients": [[...]], "measurements": {key: [...]}, "warnings": [[...]]}``
(the checksum of the body data the coefficients belong to, so the caller can refuse a mismatch), or
``{"error": [lines]}`` with exit code 1. Floats travel as JSON numbers (shortest repr), which round-trip float64
exactly, so the avatar is bit-identical to one decoded in-process. Run as ``python -m pipeline.decode_worker``
with the project's Python (the one that has torch).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from pipeline.attributes import SpecError, parse_avatar
from pipeline.body_model import load_body_model
from pipeline.files import sha256_file


def run(payload: dict[str, Any]) -> dict[str, Any]:
    from pipeline.generate import decode_requests

    requests = [parse_avatar(entry, i) for i, entry in enumerate(payload.get("requests") or [])]
    if not requests:
        raise SpecError(["decode worker: no requests given"])
    body = load_body_model()
    dec = decode_requests(requests, body, bool(payload.get("refine", True)))
    return {"body_sha256": sha256_file(body.asset_dir / "body.npz"),
            "coefficients": np.asarray(dec.coefficients, dtype=np.float64).tolist(),
            "measurements": {k: np.asarray(v, dtype=np.float64).tolist() for k, v in dec.measurements.items()},
            "warnings": dec.warnings}


def main() -> int:
    try:
        out = run(json.loads(sys.stdin.read()))
    except SpecError as exc:
        print(json.dumps({"error": exc.problems}))
        return 1
    except Exception as exc:  # the caller shows this line to the user
        print(json.dumps({"error": [f"decode worker: {type(exc).__name__}: {exc}"]}))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
