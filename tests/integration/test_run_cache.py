"""The cluster's DVC workflow on a toy pipeline: a pod's dvc.lock is thrown away, the run-cache is the record.

Each pod of k8s/ starts from the image's checkout, runs ``dvc repro --pull`` and ends with
``dvc push --run-cache``. This checks the DVC behaviour that design relies on: a second fresh
checkout running the CronJob's commands restores an unchanged stage from the remote's
run-cache without running it, and a params change does run it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
DVC = str(Path(sys.executable).parent / "dvc")
STAGE = """stages:
  train:
    cmd: python -c "import pathlib; open('{log}', 'a').write('run\\\\n'); pathlib.Path('out').mkdir(exist_ok=True); pathlib.Path('out/model.txt').write_text(open('params.yaml').read())"
    params: [lr]
    outs: [out]
"""


def sh(cmd: list[str], cwd: Path) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def pod(origin: Path, where: Path, remote: Path, *commands: list[str]) -> Path:
    """A fresh checkout of ``origin`` with the remote configured locally, then ``commands``."""
    sh(["git", "clone", "-q", str(origin), str(where)], origin.parent)
    sh([DVC, "remote", "add", "--local", "--default", "cluster", str(remote)], where)
    for c in commands:
        sh(c, where)
    return where


def test_a_fresh_pod_restores_unchanged_stages_from_the_run_cache(tmp_path):
    log = tmp_path / "runs.log"
    origin = tmp_path / "origin"
    origin.mkdir()
    sh(["git", "init", "-q"], origin)
    sh([DVC, "init", "-q"], origin)
    (origin / "dvc.yaml").write_text(STAGE.format(log=log))
    (origin / "params.yaml").write_text("lr: 0.1\n")
    sh(["git", "add", "-A"], origin)
    sh(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "pipeline"], origin)
    remote = tmp_path / "remote"
    retrain = ([DVC, "pull", "--run-cache", "--allow-missing"], [DVC, "repro", "--pull"], [DVC, "push", "--run-cache"])

    first = pod(origin, tmp_path / "pod1", remote, *retrain)
    assert log.read_text() == "run\n" and (first / "out" / "model.txt").read_text() == "lr: 0.1\n"

    second = pod(origin, tmp_path / "pod2", remote, *retrain)
    assert log.read_text() == "run\n"                  # restored, not rerun
    assert (second / "out" / "model.txt").read_text() == "lr: 0.1\n"
    assert (second / "dvc.lock").is_file()             # and the lock is rebuilt from the record

    third = pod(origin, tmp_path / "pod3", remote)
    (third / "params.yaml").write_text("lr: 0.2\n")
    for c in retrain:
        sh(c, third)
    assert log.read_text() == "run\nrun\n"             # a changed param trains again
    assert (third / "out" / "model.txt").read_text() == "lr: 0.2\n"
