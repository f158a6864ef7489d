"""docker/: the Dockerfiles lint clean, use only what the repository has, and pin what the project pins.

No Docker engine runs here, so this is what can be checked statically: hadolint at warning
level (and that it does fail a bad Dockerfile), every COPY source and make target the builds
use, the pins shared between images, the Makefile and the lock files, and the compose stack.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "docker").glob("*.Dockerfile"))
HADOLINT = Path(sys.executable).parent / "hadolint"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            out[name.lower().replace("_", "-")] = version.strip()
    return out


def hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(HADOLINT), "--failure-threshold", "warning", "--no-color", str(path)], capture_output=True, text=True
    )


def test_three_images():
    assert [p.name for p in DOCKERFILES] == ["cpu.Dockerfile", "gpu.Dockerfile", "mlflow.Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfiles_lint_clean(dockerfile):
    r = hadolint(dockerfile)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_lint_fails_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install torch\nRUN cd /app && make\n")
    r = hadolint(bad)
    assert r.returncode == 1
    assert {"DL3007", "DL3013", "DL3042", "DL3003"} <= set(re.findall(r"DL\d{4}", r.stdout))


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_builds_use_only_what_the_repository_has(dockerfile):
    ignored = [
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    users = []
    for word, args in instructions(dockerfile):
        if word == "COPY" and "--from=" not in args:
            *sources, _ = [a for a in shlex.split(args) if not a.startswith("--")]
            for src in sources:
                if src == ".":
                    continue
                assert (REPO / src).exists(), f"{dockerfile.name}: COPY {src} does not exist"
                assert not any(src.rstrip("/") == i or src.startswith(i + "/") for i in ignored), src
        if word == "RUN":
            for m in re.finditer(r"\bmake ([a-z][\w-]*)", args):
                r = subprocess.run(["make", "-n", "-C", str(REPO), m.group(1)], capture_output=True, text=True)
                assert r.returncode == 0, f"{dockerfile.name}: make {m.group(1)}: {r.stderr}"
            for m in re.finditer(r"-r (requirements/[\w.-]+)", args):
                assert (REPO / m.group(1)).is_file(), m.group(1)
        if word == "USER":
            users.append(args)
    assert users and users[-1] == "1000:1000", f"{dockerfile.name} must end as a numeric non-root user"
    base = [a for w, a in instructions(dockerfile) if w == "FROM"]
    assert base == ["python:3.11.14-slim-bookworm"]


def test_pins_agree_across_images_make_and_locks():
    lock, gpu, server = (pins(REPO / "requirements" / f) for f in ("lock.txt", "gpu.txt", "mlflow-server.txt"))
    makefile = (REPO / "Makefile").read_text()
    deepspeed = re.search(r"^DEEPSPEED := (\S+)$", makefile, re.M).group(1)
    assert f"deepspeed=={deepspeed}" in (REPO / "docker" / "gpu.Dockerfile").read_text()
    assert "torch==2.13.0" in makefile and '"torch==2.13.0"' in (REPO / "pyproject.toml").read_text()
    assert gpu["torch"] == "2.13.0" and gpu["vllm"] == "0.30.0"
    for shared in ("transformers", "trl", "peft", "accelerate", "mlflow", "dvc", "great-expectations", "opensmile"):
        assert gpu[shared] == lock[shared], shared
    assert server["mlflow"] == lock["mlflow"]
    assert "psycopg2-binary" in server and "boto3" in server
    assert "dvc-s3" in gpu  # the cluster's S3 remote
    assert not any(n.startswith("nvidia-") for n in lock)


def test_the_gpu_set_is_the_resolution_of_its_source():
    source = (REPO / "requirements" / "gpu.in").read_text()
    gpu = pins(REPO / "requirements" / "gpu.txt")
    for line in source.splitlines():
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[\w,]+\])?==(\S+)", line.strip())
        if m:
            assert gpu[m.group(1).lower().replace("_", "-")] == m.group(2), line


def test_compose_stack_is_complete():
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "minio", "minio-init", "mlflow", "pipeline"} <= set(services)
    for svc in services.values():
        if "build" in svc:
            assert (REPO / "docker" / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
    env = dict(
        line.split("=", 1)
        for line in (REPO / "docker" / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name in ("mlflow", "minio-init"):
        used = set(re.findall(r"\$\$(\w+)", " ".join(services[name]["command"])))
        assert used and used <= set(env), used - set(env)
    mlflow = " ".join(services["mlflow"]["command"])
    assert "postgresql://" in mlflow and "--artifacts-destination" in mlflow and "--serve-artifacts" in mlflow
    assert services["pipeline"]["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert ".env" in (REPO / ".gitignore").read_text() and "docker/.env" in (REPO / ".dockerignore").read_text()
