"""--backend ray on a local cluster: the same files as the local backend, a worker killed mid-batch costs nothing,
and a killed batch process takes its actors with it and resumes on either backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.gltf_validation import summarize, validate_glb
from support.ray_cluster import ray_env

from pipeline.core.files import sha256_file

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "pipeline" / "run.py"


def _spec(path: Path, n: int) -> Path:
    path.write_text("".join(f'[[avatar]]\nname = "p{i:02d}"\nsex = {(i % 3) / 2}\nage_years = {8 + 6 * i}\n'
                            f"height_cm = {130 + 4 * i}\nweight_kg = {30 + 4 * i}\nseed = {i}\n\n" for i in range(n)))
    return path


def _run(*args, timeout=600):
    return subprocess.run([sys.executable, str(RUN), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=ray_env())


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _actor_pids() -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if stat.read_bytes().startswith(b"ray::AvatarActor"):
                out.add(int(stat.parent.name))
        except OSError:
            pass
    return out


def _wait_actors_gone(timeout: float = 60) -> None:
    """Ray ends killed actors asynchronously: their processes may outlive the driver by a moment."""
    deadline = time.time() + timeout
    while _actor_pids() and time.time() < deadline:
        time.sleep(0.2)
    assert not _actor_pids(), _actor_pids()


def _all_whole_and_valid(out: Path, n: int) -> dict:
    m = _manifest(out)
    assert len(m["avatars"]) == n and all(e["status"] == "done" for e in m["avatars"].values()), m["avatars"]
    glbs = []
    for name, entry in m["avatars"].items():
        for fname, info in entry["files"].items():
            assert sha256_file(out / name / fname) == info["sha256"], (name, fname)
        glbs.append(out / name / f"{name}.glb")
    for path, report in validate_glb(glbs).items():
        assert summarize(report)["errors"] == 0, path
    assert not [p for p in out.rglob("*") if ".partial" in p.name or p.name.endswith(".tmp")]
    return m


def _wait_for_done(out: Path, count: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            if sum(e["status"] == "done" for e in _manifest(out)["avatars"].values()) >= count:
                return
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} avatars done in time ({proc.poll()})")


def test_ray_backend_gives_the_local_backends_files(ray_cluster, tmp_path):
    spec = _spec(tmp_path / "s.toml", 4)
    formats = "glb,fbx-unity,usd"
    local = _run("--spec", spec, "--out", tmp_path / "local", "--formats", formats, "--no-preview")
    ray = _run("--spec", spec, "--out", tmp_path / "ray", "--formats", formats, "--no-preview", "--backend", "ray",
               "--ray-address", ray_cluster, "--workers", 2)
    assert local.returncode == 0 and ray.returncode == 0, ray.stderr[-2000:]
    m_local, m_ray = _manifest(tmp_path / "local"), _manifest(tmp_path / "ray")
    assert m_ray["backend"] == "ray" and m_ray["threads"]["torch_threads"] == m_local["threads"]["torch_threads"] == 1
    for name, entry in m_local["avatars"].items():
        assert {k: v["sha256"] for k, v in entry["files"].items()} == \
            {k: v["sha256"] for k, v in m_ray["avatars"][name]["files"].items()}, name
    _wait_actors_gone()  # the actors end with the batch


def test_a_worker_killed_mid_batch_costs_nothing(ray_cluster, tmp_path):
    spec = _spec(tmp_path / "s.toml", 8)
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, str(RUN), "--spec", str(spec), "--out", str(out), "--no-preview",
                             "--backend", "ray", "--ray-address", ray_cluster, "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ray_env())
    _wait_for_done(out, 1, proc)
    victims = sorted(_actor_pids())
    assert len(victims) == 2, victims
    os.kill(victims[0], signal.SIGKILL)  # mid-batch: that actor is making its next avatar
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    _all_whole_and_valid(out, 8)  # every avatar done once, whole, valid, no temporary file left


def test_a_killed_batch_takes_its_actors_and_resumes_on_either_backend(ray_cluster, tmp_path):
    for resume_with in ("ray", "local"):
        spec = _spec(tmp_path / f"{resume_with}.toml", 8)
        out = tmp_path / resume_with
        proc = subprocess.Popen([sys.executable, str(RUN), "--spec", str(spec), "--out", str(out), "--no-preview",
                                 "--backend", "ray", "--ray-address", ray_cluster, "--workers", "2"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ray_env())
        _wait_for_done(out, 2, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = {n for n, e in _manifest(out)["avatars"].items() if e["status"] == "done"}
        assert 2 <= len(before) < 8
        _wait_actors_gone()  # Ray ends the actors of a dead driver
        extra = ["--backend", "ray", "--ray-address", ray_cluster] if resume_with == "ray" else []
        done = _run("--spec", spec, "--out", out, "--no-preview", "--resume", "--workers", 2, *extra)
        assert done.returncode == 0, done.stderr[-2000:]
        m = _all_whole_and_valid(out, 8)
        assert {n for n, e in m["avatars"].items() if e.get("resumed")} == before  # each made once
