"""Hostile output folders and manifests: files that are not ours are never touched, links are never written
through, a second run on a folder is refused, folder errors are one line, and resume trusts nothing it cannot
check."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.core.files import RUN_ID, partial_path, sha256_file
from pipeline.core.spec import SpecError
from pipeline.jobs.batch import generate
from pipeline.jobs.lock import LOCK_NAME, FolderLocked
from pipeline.jobs.options import GenerateOptions

ROOT = Path(__file__).resolve().parents[2]
ENTRY = 'sex = "female"\nage_years = 30\nheight_cm = 165\nweight_kg = 60\n'


def _spec(path: Path, *names: str) -> Path:
    path.write_text("".join(f'[[avatar]]\nname = "{n}"\n{ENTRY}seed = {i}\n' for i, n in enumerate(names)))
    return path


def _generate(spec: Path, out: Path, **kw):
    return generate(spec, GenerateOptions(out=out, preview=False, echo=kw.pop("echo", lambda s: None), **kw))


def _cli(*args, cwd=None, **kw):
    env = dict(os.environ, PYOPENGL_PLATFORM="egl")
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env, cwd=cwd, **kw)


def test_foreign_temporary_looking_files_are_untouched_and_our_leftovers_removed(tmp_path):
    out = tmp_path / "out"
    for p in ("photos/.edit.partial.jpg", "ann/.notes.tmp", ".x.tmp", "ann/.ann.glb.partial.glb", "ann/keep.txt"):
        (out / p).parent.mkdir(parents=True, exist_ok=True)
        (out / p).write_text("mine")
    ours = out / "ann" / ".ann.glb.0123abcd.partial.glb"  # what a killed run of ours leaves
    ours.write_text("half a file")
    manifest, code = _generate(_spec(tmp_path / "s.toml", "ann"), out)
    assert code == 0 and manifest["avatars"]["ann"]["status"] == "done"
    for p in ("photos/.edit.partial.jpg", "ann/.notes.tmp", ".x.tmp", "ann/.ann.glb.partial.glb", "ann/keep.txt"):
        assert (out / p).read_text() == "mine", p
    assert not ours.exists()
    assert not [p for p in out.rglob("*") if RUN_ID in p.name]  # nothing of this run left behind


def test_symlinked_avatar_folder_and_file_are_refused_and_their_targets_untouched(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".ann.glb.0123abcd.partial.glb").write_text("theirs")
    (elsewhere / "bob.glb").write_text("theirs too")
    out.mkdir()
    (out / "ann").symlink_to(elsewhere, target_is_directory=True)
    (out / "bob").mkdir()
    (out / "bob" / "bob.glb").symlink_to(elsewhere / "bob.glb")
    manifest, code = _generate(_spec(tmp_path / "s.toml", "ann", "bob", "cid"), out)
    assert code == 1
    assert manifest["avatars"]["cid"]["status"] == "done"
    for name in ("ann", "bob"):
        (line,) = manifest["avatars"][name]["error"]
        assert "symbolic link" in line and f"avatar {name!r}" in line
    assert sorted(p.name for p in elsewhere.iterdir()) == [".ann.glb.0123abcd.partial.glb", "bob.glb"]
    assert (elsewhere / "bob.glb").read_text() == "theirs too"


def test_a_second_run_on_a_folder_is_refused_and_a_stale_lock_cleared(tmp_path):
    spec = _spec(tmp_path / "s.toml", *(f"p{i}" for i in range(6)))
    out = tmp_path / "out"
    env = dict(os.environ, PYOPENGL_PLATFORM="egl")
    first = subprocess.Popen([sys.executable, "-m", "pipeline", "generate", "--spec", str(spec), "--out", str(out),
                              "--no-preview"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while not (out / LOCK_NAME).exists() and time.time() < deadline:
        time.sleep(0.05)
    second = _cli("generate", "--spec", spec, "--out", out, "--no-preview")
    assert second.returncode == 2, second.stderr
    assert "is in use by another avatar generate" in second.stderr and f"pid {first.pid}" in second.stderr
    assert first.wait(timeout=300) == 0, first.stderr.read()
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["avatars"]) == [f"p{i}" for i in range(6)]  # the first run's avatars all there
    assert not (out / LOCK_NAME).exists()
    # a lock left by a process that no longer exists on this host is cleared; one from another host is not
    (out / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": first.pid, "start": "1",
                                             "run": "deadbeef", "since": "earlier"}))
    notes = []
    _, code = _generate(_spec(tmp_path / "one.toml", "p0"), out, echo=notes.append)
    assert code == 0 and any("cleared the lock of a run that no longer exists" in n for n in notes)
    (out / LOCK_NAME).write_text(json.dumps({"host": "render-node-7", "pid": 1, "since": "earlier"}))
    with pytest.raises(FolderLocked, match=f"delete {out / LOCK_NAME}"):
        _generate(_spec(tmp_path / "one.toml", "p0"), out)


def test_folder_errors_are_one_line_with_exit_code_2(tmp_path):
    spec = _spec(tmp_path / "s.toml", "a")
    (tmp_path / "file").write_text("x")
    for out, words in ((tmp_path / "file", "cannot create the folder"),
                       (tmp_path / "file" / "under", "cannot create the folder")):
        proc = _cli("generate", "--spec", spec, "--out", out, "--no-preview")
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    (tmp_path / "m" / "manifest.json").mkdir(parents=True)
    proc = _cli("generate", "--spec", spec, "--out", tmp_path / "m", "--no-preview")
    assert proc.returncode == 2 and "Is a directory" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "m" / LOCK_NAME).exists()  # released on the way out


def test_a_read_only_output_folder_is_one_line_with_exit_code_2(tmp_path):
    """A read-only file system (a tmpfs mounted read-only in a private mount namespace: root writes through
    permission bits, so a mode-0555 folder would not do), as the folder and as the parent of a new folder."""
    spec = _spec(tmp_path / "s.toml", "a")
    ro = tmp_path / "ro"
    ro.mkdir()
    for out, words in ((ro, "cannot write there"), (ro / "sub", "cannot create the folder")):
        run = f"exec {sys.executable} -m pipeline generate --spec {spec} --out {out} --no-preview"
        proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                               f"mount -t tmpfs -o ro tmpfs {ro} && {run}"], capture_output=True, text=True,
                              timeout=300, env=dict(os.environ, PYOPENGL_PLATFORM="egl"))
        assert proc.returncode == 2, proc.stderr
        assert words in proc.stderr and "Read-only file system" in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def _made(tmp_path):
    spec = _spec(tmp_path / "s.toml", "a", "b")
    out = tmp_path / "out"
    _, code = _generate(spec, out)
    assert code == 0
    return spec, out, json.loads((out / "manifest.json").read_text())


@pytest.mark.parametrize("broken", [b"[]", b"null", b'{"avatars": []}', b"\xff\xfe not utf-8", b"{" * 100_000])
def test_broken_manifests_are_reported_and_everything_made_again(tmp_path, broken):
    spec, out, _ = _made(tmp_path)
    (out / "manifest.json").write_bytes(broken)
    notes = []
    manifest, code = _generate(spec, out, resume=True, echo=notes.append)
    assert code == 0 and not any(e.get("resumed") for e in manifest["avatars"].values())
    assert any(n.startswith("resume: ") and "every avatar is made again" in n for n in notes), notes


def test_forged_and_malformed_entries_are_ignored_and_remade(tmp_path):
    spec, out, good = _made(tmp_path)
    hostname = Path("/etc/hostname")
    forged = {**good["avatars"]["a"], "files": {"../../../../etc/hostname": {
        "sha256": sha256_file(hostname), "bytes": hostname.stat().st_size}}}
    no_bytes = {**good["avatars"]["b"]}
    no_bytes["files"] = {k: {"sha256": v["sha256"]} for k, v in no_bytes["files"].items()}
    (out / "manifest.json").write_text(json.dumps({**good, "avatars": {"a": forged, "b": no_bytes}}))
    (out / "a" / "a.glb").unlink()
    notes = []
    manifest, code = _generate(spec, out, resume=True, echo=notes.append)
    assert code == 0 and (out / "a" / "a.glb").stat().st_size > 100_000
    assert not any(e.get("resumed") for e in manifest["avatars"].values())
    assert any("'a'" in n and "not a file of the avatar's own folder" in n for n in notes), notes
    assert any("'b'" in n and "lacks a sha256 of 64 hex digits or a size" in n for n in notes), notes
    assert "../../../../etc/hostname" not in json.dumps(manifest)


def test_a_tampered_checksum_or_a_link_in_place_of_a_file_is_remade(tmp_path):
    spec, out, good = _made(tmp_path)
    entry = good["avatars"]["a"]
    entry["files"]["a.glb"]["sha256"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(good))
    real = out / "b" / "b.glb"
    moved = tmp_path / "b.glb"
    real.rename(moved)
    real.symlink_to(moved)  # the same bytes, reached through a link
    manifest, code = _generate(spec, out, resume=True)
    assert code == 1  # b's file is a link now: refused, never written through
    assert not manifest["avatars"]["a"].get("resumed") and manifest["avatars"]["a"]["status"] == "done"
    assert "symbolic link" in manifest["avatars"]["b"]["error"][0]


def test_duplicate_and_invalid_namesakes_fail_with_exit_code_1(tmp_path):
    text = _spec(tmp_path / "s.toml", "dup").read_text()
    spec = tmp_path / "d.toml"
    spec.write_text(text + text.replace("age_years = 30", "age_years = -1") + text)
    manifest, code = _generate(spec, tmp_path / "out")
    assert code == 1
    assert manifest["avatars"]["dup"]["status"] == "done"
    assert {k: v["status"] for k, v in manifest["avatars"].items() if k != "dup"} == {
        "dup (entry #2)": "failed", "dup (entry #3)": "failed"}


def test_temporary_names_are_ours_and_deterministic_per_run(tmp_path):
    p = partial_path(tmp_path / "ana.unity.fbx")
    assert p.name == f".ana.unity.fbx.{RUN_ID}.partial.fbx" and p.parent == tmp_path
    with pytest.raises(SpecError, match="not a regular file"):
        _generate(Path("/dev/zero"), tmp_path / "out")
