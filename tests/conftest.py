"""Shared fixtures and hooks for every test tier (unit, integration, e2e); importable builders are in helpers.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Read-only real reference files; the `shared` folder sits beside the repository checkout.
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"

TEST_ENV = {
    "AUDIOREASON_TRACKING": "off",  # NullTracker: no MLflow runs from tests
    "HF_HUB_OFFLINE": "1",  # nothing may be downloaded
    "TOKENIZERS_PARALLELISM": "false",  # no fork warnings / thread oversubscription
}
# huggingface_hub reads HF_HUB_OFFLINE once, at import, and test modules import transformers
# while they are collected (before any fixture runs): set the variables now as well.
os.environ.update(TEST_ENV)


@pytest.fixture(scope="session", autouse=True)
def _test_environment():
    """Offline, untracked, single-threaded tokenizers for the whole session."""
    mp = pytest.MonkeyPatch()
    for key, value in TEST_ENV.items():
        mp.setenv(key, value)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout (the folder holding ``pyproject.toml``)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference`` (real MMAU test-mini, MUSIC-AVQA val, ...); skips when absent."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference files not found at {REFERENCE_DIR}")
    return REFERENCE_DIR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """A real ``mlflow server`` on loopback (SQLite store, local artifacts); yields its URL."""
    import requests

    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=1).ok:
                break
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still starting up
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("mlflow server did not come up")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` where CUDA is not available."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)
