"""The warm interpreter (audioreason.warm): a stage forked from it behaves as the plain process would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from audioreason import warm

TOY = """
import os, sys, time
print("argv", sys.argv[1:], "cwd", os.getcwd(), "x", os.environ.get("X"), "toy", os.environ.get("TOY_SET"))
print("to stderr", file=sys.stderr)
if sys.argv[1:2] == ["fail"]:
    raise RuntimeError("boom")
if sys.argv[1:2] == ["sleep"]:
    open("started", "w").write(str(os.getpid()))
    try:
        time.sleep(60)
    finally:
        open("cleaned_up", "w").write(str(os.getpid()))
sys.exit(int(sys.argv[1]) if sys.argv[1:2] and sys.argv[1].isdigit() else 0)
"""


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    (tmp_path / "toymod.py").write_text(TOY)
    # Imported by the server only: what it puts in the environment, a stage's own import would have put there.
    (tmp_path / "toypreload.py").write_text("import os\nos.environ.setdefault('TOY_SET', 'by-import')\n")
    return tmp_path


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != warm.ENV}
    src = str(Path(warm.__file__).parents[1])
    env.update(PYTHONPATH=os.pathsep.join([src, env.get("PYTHONPATH", "")]), AUDIOREASON_WARM_PRELOAD="toypreload")
    env.update(extra)
    return env


def client(*args: str) -> str:
    return f"{sys.executable} -m audioreason.warm -m toymod {' '.join(args)}"


def with_server(tmp_path: Path, script: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "audioreason.warm", "with", "--", "bash", "-c", script],
        cwd=tmp_path,
        env=env_for(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_a_server_the_command_is_python_dash_m(toy):
    proc = subprocess.run(
        [sys.executable, "-m", "audioreason.warm", "-m", "toymod", "5"],
        cwd=toy,
        env=env_for(toy),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 5
    assert proc.stdout == f"argv ['5'] cwd {toy} x None toy None\n" and proc.stderr == "to stderr\n"


def test_stages_fork_from_the_server_with_their_argv_cwd_streams_and_exit_status(toy):
    (toy / "sub").mkdir()
    script = "; ".join(
        [
            f"{client('a', 'b')} > out_ab.txt 2> err_ab.txt; echo rc=$?",
            f"cd sub && {client('3')} > ../out_3.txt; echo rc=$?; cd ..",
            f"{client('fail')} 2> err_fail.txt; echo rc=$?",
            f"X=1 {client('4')} > out_x.txt 2> err_x.txt; echo rc=$?",
        ]
    )
    proc = with_server(toy, script)
    assert proc.returncode == 0, proc.stderr
    assert "server ready" in proc.stderr
    assert [line for line in proc.stdout.splitlines() if line.startswith("rc=")] == ["rc=0", "rc=3", "rc=1", "rc=4"]
    # Forked: the server's import set TOY_SET, which the command's environment did not have.
    assert (toy / "out_ab.txt").read_text() == f"argv ['a', 'b'] cwd {toy} x None toy by-import\n"
    assert (toy / "err_ab.txt").read_text() == "to stderr\n"
    assert (toy / "out_3.txt").read_text() == f"argv ['3'] cwd {toy / 'sub'} x None toy by-import\n"
    fail = (toy / "err_fail.txt").read_text()
    assert "RuntimeError: boom" in fail and "Traceback" in fail
    # Another environment than the server's: a plain process (the server's imports never saw X=1).
    assert (toy / "out_x.txt").read_text() == f"argv ['4'] cwd {toy} x 1 toy None\n"
    assert "without the server: the environment differs from the server's (X)" in (toy / "err_x.txt").read_text()


def test_the_server_is_gone_after_the_command_and_its_exit_status_is_the_commands(toy):
    proc = with_server(toy, f"echo $AUDIOREASON_WARM > sock.txt; {client('0')} > /dev/null; exit 9")
    assert proc.returncode == 9
    sock = Path((toy / "sock.txt").read_text().strip())
    assert sock.name == "sock" and not sock.exists() and not sock.parent.exists()


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    ("how", "code", "finally_ran"),
    [
        (signal.SIGINT, 128 + signal.SIGINT, True),
        (signal.SIGTERM, 128 + signal.SIGTERM, False),
        (signal.SIGKILL, None, False),
    ],
)
def test_a_signalled_or_killed_command_takes_its_stage_with_it(toy, how, code, finally_ran):
    """SIGINT and SIGTERM reach the stage as they would a plain process (KeyboardInterrupt; the default
    action); a command killed outright has its stage terminated by the server."""
    wait_started = "while [ ! -s started ]; do sleep 0.05; done"
    script = f"{client('sleep')} & pid=$!; {wait_started}; kill -{how.value} $pid; wait $pid; echo rc=$?"
    proc = with_server(toy, script)
    stage = int((toy / "started").read_text())
    assert stage != proc.returncode and gone(stage), "the stage outlived its command"
    assert (toy / "cleaned_up").exists() == finally_ran
    if code is not None:
        assert f"rc={code}" in proc.stdout


def test_the_fingerprint_ignores_what_dvc_and_the_shell_change_only():
    base = {"HOME": "/root", "HF_HUB_OFFLINE": "1", "PATH": "/a"}
    moved = {**base, "PATH": "/b:/a", "DVC_STAGE": "grpo@base", "DVC_ROOT": "/r", "SHLVL": "2", warm.ENV: "/s"}
    moved["AUDIOREASON_TRACKING"] = "on"  # the project's own, read by its modules, which a stage imports itself
    assert warm.fingerprint(moved) == warm.fingerprint(base)
    assert warm.fingerprint({**base, "HF_HUB_OFFLINE": "0"}) != warm.fingerprint(base)


def test_usage_on_unknown_arguments(capsys):
    assert warm.main(["bogus"]) == 2
    assert "python -m audioreason.warm -m MODULE" in capsys.readouterr().err


def test_the_client_imports_only_the_standard_library():
    code = textwrap.dedent(
        """
        import sys
        before = set(sys.modules)
        import audioreason.warm
        print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] not in sys.stdlib_module_names))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['audioreason', 'audioreason.warm']"
