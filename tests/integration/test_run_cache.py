"""The cluster's DVC workflow (``make cluster-dvc``, then ``dvc repro`` / ``dvc push``) on a toy pipeline.

Each pod of k8s/ starts from the image's checkout with the shared volumes mounted. These tests
check the DVC behaviour that design relies on, with the Makefile's real target:

* the pipeline state (dvc.lock) lives on the outputs volume, so a new pod skips what an earlier
  pod finished, stages with ``persist: true`` outputs included (DVC's run-cache never records
  those: ``dvc/stage/cache.py``);
* a stage without persistent outputs is restored from the remote's run-cache in a pod that has
  neither the lock nor the outputs;
* a params change trains again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")
STAGE = """stages:
  train:
    cmd: python -c "import pathlib; open('{log}', 'a').write('train\\\\n'); pathlib.Path('outputs/model').mkdir(parents=True, exist_ok=True); pathlib.Path('outputs/model/weights.txt').write_text(open('params.yaml').read())"
    params: [lr]
    outs:
      - outputs/model:
          persist: {persist}
"""


def sh(cmd: list[str], cwd: Path, env: dict | None = None) -> str:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    assert r.returncode == 0, f"{cmd}: {r.stdout}{r.stderr}"
    return r.stdout


def origin_repo(root: Path, log: Path, persist: bool) -> Path:
    origin = root / "origin"
    origin.mkdir()
    sh(["git", "init", "-q"], origin)
    sh([DVC, "init", "-q"], origin)
    (origin / "dvc.yaml").write_text(STAGE.format(log=log, persist=str(persist).lower()))
    (origin / "params.yaml").write_text("lr: 0.1\n")
    sh(["git", "add", "-A"], origin)
    sh(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "pipeline"], origin)
    return origin


def pod(root: Path, name: str, origin: Path, outputs: Path | None, *, lr: float = 0.1) -> Path:
    """A fresh checkout; ``make cluster-dvc``; ``dvc repro --pull``; ``dvc push --run-cache``.

    With ``outputs``, the outputs volume is "mounted": its files are put at ``outputs/`` before
    the pod runs and taken back after (DVC refuses an output folder that is a symbolic link,
    and a bind mount needs privileges; links into the cache volume are kept as links).
    """
    where = root / name
    sh(["git", "clone", "-q", str(origin), str(where)], root)
    if outputs is not None and outputs.exists():
        shutil.copytree(outputs, where / "outputs", symlinks=True)
    (where / "params.yaml").write_text(f"lr: {lr}\n")
    env = {"DVC_CACHE_DIR": str(root / "cache-volume"), "DVC_REMOTE_URL": str(root / "remote")}
    sh(["make", "-f", str(REPO / "Makefile"), f"BIN={BIN}", "cluster-dvc"], where, env)
    sh([DVC, "repro", "--pull"], where)
    sh([DVC, "push", "--run-cache"], where)
    if outputs is not None:
        shutil.rmtree(outputs, ignore_errors=True)
        shutil.copytree(where / "outputs", outputs, symlinks=True)
    return where


def test_the_state_on_the_outputs_volume_carries_persistent_stages_across_pods(tmp_path):
    log = tmp_path / "runs.log"
    origin = origin_repo(tmp_path, log, persist=True)
    volume = tmp_path / "outputs-volume"
    first = pod(tmp_path, "pod1", origin, volume)
    assert log.read_text() == "train\n"
    assert (first / "dvc.lock").is_symlink() and (volume / ".cluster" / "dvc.lock").is_file()
    assert "outputs/model" in (volume / ".cluster" / "dvc.lock").read_text()
    pod(tmp_path, "pod2", origin, volume)
    assert log.read_text() == "train\n"  # the state was on the volume: skipped
    pod(tmp_path, "pod3", origin, volume, lr=0.2)
    assert log.read_text() == "train\ntrain\n"  # a changed param trains again
    assert (volume / "model" / "weights.txt").read_text() == "lr: 0.2\n"


def test_without_the_volume_a_plain_stage_comes_back_from_the_run_cache(tmp_path):
    log = tmp_path / "runs.log"
    origin = origin_repo(tmp_path, log, persist=False)
    pod(tmp_path, "pod1", origin, None)
    assert log.read_text() == "train\n"
    second = pod(tmp_path, "pod2", origin, None)  # no lock, no outputs: only the remote
    assert log.read_text() == "train\n"
    assert (second / "outputs" / "model" / "weights.txt").read_text() == "lr: 0.1\n"


def test_cluster_dvc_refuses_to_run_without_its_settings(tmp_path):
    r = subprocess.run(
        ["make", "-f", str(REPO / "Makefile"), f"BIN={BIN}", "cluster-dvc"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("DVC_")},
    )
    assert r.returncode != 0 and "DVC_CACHE_DIR is not set" in r.stdout + r.stderr
