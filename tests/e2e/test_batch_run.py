"""pipeline/run.py in a subprocess: exit codes, SIGKILL then --resume, targeted redo, --workers 2 == --workers 1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.core.files import sha256_file
from pipeline.formats.glb_read import read_glb

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "pipeline" / "run.py"


def _spec(path: Path, n: int, height: float = 170.0) -> Path:
    lines = []
    for i in range(n):
        lines += ["[[avatar]]", f'name = "p{i:02d}"', f'sex = {(i % 3) / 2}', f"age_years = {20 + 3 * i}",
                  f"height_cm = {height + i}", f"weight_kg = {60 + i}", f"seed = {i}", ""]
    path.write_text("\n".join(lines))
    return path


def _run(*args, timeout=900):
    env = dict(os.environ, PYOPENGL_PLATFORM="egl")
    return subprocess.run([sys.executable, str(RUN), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_exit_codes_good_bad_item_missing_file(tmp_path):
    good = _spec(tmp_path / "good.toml", 1)
    assert _run("--spec", good, "--out", tmp_path / "g", "--no-preview").returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text() + '\n[[avatar]]\nname = "x"\nsex = "male"\nage_years = 30\nheight_cm = 180\n')
    proc = _run("--", "--spec", bad, "--out", tmp_path / "b", "--no-preview")  # the form Blender passes
    assert proc.returncode == 1 and "avatar 'x': missing required field 'weight_kg'" in proc.stderr
    assert _manifest(tmp_path / "b")["avatars"]["p00"]["status"] == "done"
    proc = _run("--spec", tmp_path / "nope.toml", "--out", tmp_path / "n")
    assert proc.returncode == 2 and "cannot read" in proc.stderr


def _all_whole(out: Path, manifest: dict) -> None:
    for name, entry in manifest["avatars"].items():
        assert entry["status"] == "done", (name, entry)
        for fname, info in entry["files"].items():
            p = out / name / fname
            assert sha256_file(p) == info["sha256"], p
            if fname.endswith(".glb"):
                read_glb(p)  # parses: not truncated
    assert not list(out.rglob(".*.partial*")) and not list(out.rglob(".*.tmp"))


def test_sigkill_midway_then_resume(tmp_path):
    spec = _spec(tmp_path / "s.toml", 20)
    out = tmp_path / "o"
    env = dict(os.environ, PYOPENGL_PLATFORM="egl")
    proc = subprocess.Popen([sys.executable, str(RUN), "--spec", str(spec), "--out", str(out), "--no-preview"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    while time.time() < deadline:  # kill once a few avatars are done, mid-batch
        if (out / "manifest.json").exists():
            try:
                done = sum(v["status"] == "done" for v in _manifest(out)["avatars"].values())
            except json.JSONDecodeError:
                done = 0
            if done >= 5:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _manifest(out)["avatars"]
    assert 5 <= len(before) < 20
    proc = _run("--spec", spec, "--out", out, "--no-preview", "--resume")
    assert proc.returncode == 0, proc.stderr
    m = _manifest(out)
    assert len(m["avatars"]) == 20
    resumed = {n for n, e in m["avatars"].items() if e.get("resumed")}
    assert resumed == {n for n, e in before.items() if e["status"] == "done"}  # each done once
    _all_whole(out, m)


def test_resume_redoes_exactly_a_truncated_file_and_an_edited_entry(tmp_path):
    spec = _spec(tmp_path / "s.toml", 4)
    out = tmp_path / "o"
    assert _run("--spec", spec, "--out", out, "--no-preview").returncode == 0
    glb = out / "p01" / "p01.glb"
    glb.write_bytes(glb.read_bytes()[:1000])
    spec.write_text(spec.read_text().replace("height_cm = 173.0", "height_cm = 175.0"))  # p03
    proc = _run("--spec", spec, "--out", out, "--no-preview", "--resume")
    assert proc.returncode == 0, proc.stderr
    m = _manifest(out)
    redone = {n for n, e in m["avatars"].items() if not e.get("resumed")}
    assert redone == {"p01", "p03"}
    _all_whole(out, m)
    assert json.loads((out / "p03" / "avatar.json").read_text())["measurements"]["stature_cm"] == 175.0


def test_two_workers_give_the_same_output_as_one(tmp_path):
    spec = _spec(tmp_path / "s.toml", 4)
    assert _run("--spec", spec, "--out", tmp_path / "w1", "--workers", 1).returncode == 0
    assert _run("--spec", spec, "--out", tmp_path / "w2", "--workers", 2).returncode == 0
    m1, m2 = _manifest(tmp_path / "w1")["avatars"], _manifest(tmp_path / "w2")["avatars"]
    assert m1.keys() == m2.keys()
    for name in m1:
        f1 = {k: v["sha256"] for k, v in m1[name]["files"].items() if k != "avatar.json"}
        f2 = {k: v["sha256"] for k, v in m2[name]["files"].items() if k != "avatar.json"}
        assert f1 == f2, name
        j1 = json.loads((tmp_path / "w1" / name / "avatar.json").read_text())
        j2 = json.loads((tmp_path / "w2" / name / "avatar.json").read_text())
        assert j1 == j2


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            out |= {int(c) for c in children.read_text().split()}
    return out


def _alive(pid: int) -> bool:
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                     if line.startswith("State:"))
    except (FileNotFoundError, StopIteration):
        return False
    return "Z" not in state.split()[1]  # a zombie has exited


def test_two_workers_record_each_avatar_when_done_then_sigkill_and_resume_make_each_once(tmp_path):
    spec = _spec(tmp_path / "s.toml", 12)
    out = tmp_path / "o"
    env = dict(os.environ, PYOPENGL_PLATFORM="egl")
    proc = subprocess.Popen([sys.executable, str(RUN), "--spec", str(spec), "--out", str(out), "--no-preview",
                             "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    seen: list[int] = []
    workers: set[int] = set()
    deadline = time.time() + 300
    while time.time() < deadline and (not seen or seen[-1] < 3):
        workers |= _children(proc.pid)
        try:
            seen.append(sum(v["status"] == "done" for v in _manifest(out)["avatars"].values()))
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # the manifest grew an avatar or two at a time while the batch ran (each worker's 6 at once would be chunks)
    counts = sorted(set(seen) - {0})
    assert counts[0] <= 2 and len(counts) >= 2, counts
    before = _manifest(out)["avatars"]
    assert 3 <= sum(e["status"] == "done" for e in before.values()) < 12
    # the workers die with the batch process instead of building on as orphans
    assert len(workers) >= 2
    t = time.time()
    while any(_alive(p) for p in workers) and time.time() - t < 20:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)]
    proc = _run("--spec", spec, "--out", out, "--no-preview", "--resume", "--workers", 2)
    assert proc.returncode == 0, proc.stderr
    m = _manifest(out)
    assert len(m["avatars"]) == 12 and m["workers"] == 2 and m["threads"]["torch_threads"] == 1
    resumed = {n for n, e in m["avatars"].items() if e.get("resumed")}
    assert resumed == {n for n, e in before.items() if e["status"] == "done"}  # each made once
    _all_whole(out, m)


def test_fbx_and_every_other_file_identical_across_processes(tmp_path):
    """Two runs in fresh processes with different hash salts (Blender derives FBX object ids from Python's hash()):
    every file byte-identical, FBX included, so checksums can be trusted for every format."""
    spec = _spec(tmp_path / "s.toml", 2)
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"o{seed}"
        env = dict(os.environ, PYOPENGL_PLATFORM="egl", PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, str(RUN), "--spec", str(spec), "--out", str(out), "--no-preview",
                               "--formats", "glb,fbx-unity,fbx-unreal,usd"], capture_output=True, text=True,
                              timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr
        outs.append(_manifest(out)["avatars"])
    for name, entry in outs[0].items():
        assert {k: v["sha256"] for k, v in entry["files"].items()} == \
            {k: v["sha256"] for k, v in outs[1][name]["files"].items()}, name
        assert any(k.endswith(".fbx") for k in entry["files"])
