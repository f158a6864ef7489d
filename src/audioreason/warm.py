"""A warm interpreter for the pipeline's stage commands: the heavy imports once per ``dvc repro``.

DVC runs every stage as its own command, so every stage process imports torch, transformers,
TRL, PEFT and MLflow again: 5-7 s on 2 cores, as much as a tiny stage's work, paid by each of
the pipeline's ~46 stage runs. ``make repro`` therefore runs ``dvc repro`` under
``python -m audioreason.warm with -- dvc repro``: a server process imports those libraries once
(:data:`PRELOAD`; third-party code only, the project's own modules are imported afresh by every
stage, so an edit is always seen), and each stage command in ``dvc.yaml``,

    python -m audioreason.warm -m audioreason.stages.<stage> [args]

hands its argv, working directory, environment and its stdin/stdout/stderr (the descriptors
themselves, over a Unix socket) to the server, which forks; the child takes them over and runs
the module as ``__main__`` (:func:`runpy.run_module`), as ``python -m <module> [args]`` would,
and its exit status becomes the command's. SIGINT and SIGTERM sent to the command reach the
stage; a command that goes away takes its stage with it.

Without a server (``AUDIOREASON_WARM`` unset: plain ``dvc repro``, a pod, a test), or with one
that imported under another environment or Python, the command replaces itself with
``python -m <module> [args]``: the same process a plain command is. Results do not depend on
the path taken (a test compares a stage's outputs both ways).

Commands::

    python -m audioreason.warm -m MODULE [ARGS...]     # run a module (through the server if there is one)
    python -m audioreason.warm with -- CMD [ARGS...]    # CMD with a server for its duration
    python -m audioreason.warm serve --socket PATH      # the server itself (``with`` starts it)

This module imports only the standard library: it is what every stage command starts with.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import runpy
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

ENV = "AUDIOREASON_WARM"
"""The server's socket path; set by ``with`` for the command it runs."""

PRELOAD = (
    "numpy",
    "scipy.signal",
    "soundfile",
    "pyarrow.parquet",
    "pandas",
    "yaml",
    "torch",
    "transformers",
    "transformers.trainer",
    "transformers.models.qwen2_audio.modeling_qwen2_audio",
    "transformers.models.qwen2_audio.processing_qwen2_audio",
    "transformers.models.qwen2_5_omni.modeling_qwen2_5_omni",
    "transformers.models.qwen2_5_omni.processing_qwen2_5_omni",
    "transformers.models.qwen3.modeling_qwen3",
    "transformers.models.whisper.feature_extraction_whisper",
    "accelerate",
    "peft",
    "trl",
    "trl.trainer.grpo_trainer",
    "trl.trainer.sft_trainer",
    "mlflow",
    "matplotlib.pyplot",
    "great_expectations",
    "opensmile",
)
"""Third-party modules the server imports before it forks stages (one that fails to import is skipped);
``AUDIOREASON_WARM_PRELOAD`` (comma-separated module names) replaces the list."""

VOLATILE = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "PATH", "PS1", "PS2"})
"""Environment variables that may differ between the server and a stage it runs, with every ``DVC_*``: DVC
sets ``DVC_ROOT`` and ``DVC_STAGE`` and rewrites a pyenv ``PATH`` for each command, a non-interactive
shell drops the prompts; none is read at import."""

_HEADER = struct.Struct("!I")


def _send(sock: socket.socket, obj: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(obj).encode()
    payload = _HEADER.pack(len(data)) + data
    if fds:
        socket.send_fds(sock, [payload], fds)
    else:
        sock.sendall(payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        buf += chunk
    return buf


def _recv(sock: socket.socket, with_fds: int = 0) -> tuple[dict, list[int]]:
    fds: list[int] = []
    if with_fds:
        msg, fds, _, _ = socket.recv_fds(sock, _HEADER.size, with_fds)
        if len(msg) < _HEADER.size:
            msg += _recv_exact(sock, _HEADER.size - len(msg))
    else:
        msg = _recv_exact(sock, _HEADER.size)
    (n,) = _HEADER.unpack(msg)
    return json.loads(_recv_exact(sock, n)), fds


def fingerprint(env: dict[str, str]) -> dict[str, str]:
    """What must match between the server and a stage: the environment the imports read, less :data:`VOLATILE`
    and the project's own ``AUDIOREASON_*`` (read by the project's modules, which every stage imports itself)."""
    return {k: v for k, v in env.items() if k not in VOLATILE and not k.startswith(("DVC_", "AUDIOREASON_"))}


# --------------------------------------------------------------------------- the stage command


def _cold(module: str, args: list[str]) -> None:
    """Become ``python -m module args``: what the command is without a server."""
    os.execv(sys.executable, [sys.executable, "-m", module, *args])


def run_module(module: str, args: list[str]) -> int:
    """Run ``module`` as ``python -m module args`` would, forked from the server at ``$AUDIOREASON_WARM`` if
    one answers and matches this process's Python and environment; otherwise exec it (no return)."""
    path = os.environ.get(ENV)
    if not path:
        _cold(module, args)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        request = {
            "module": module,
            "args": args,
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "python": sys.executable,
        }
        _send(sock, request, [0, 1, 2])
        reply, _ = _recv(sock)
    except (OSError, ConnectionError, ValueError):
        sock.close()
        _cold(module, args)
    if not reply.get("pid"):
        sock.close()
        print(f"audioreason.warm: running {module} without the server: {reply.get('why')}", file=sys.stderr)
        _cold(module, args)
    pid = reply["pid"]

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    try:
        status, _ = _recv(sock)
    except ConnectionError:
        return 1
    finally:
        sock.close()
    return int(status["returncode"])


# --------------------------------------------------------------------------- the server


def _reopen_stdio() -> None:
    """Standard streams over the descriptors 0-2 just installed, buffered as a new interpreter's would be."""
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        line = fd == 2 or os.isatty(fd)
        stream = open(  # noqa: SIM115 - the process's own standard stream, closed with the process
            fd,
            mode,
            buffering=1 if (line or unbuffered) and mode == "w" else -1,
            closefd=False,
            errors="backslashreplace",
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _child(request: dict, fds: list[int], listener: socket.socket, conn: socket.socket) -> None:
    """In the forked child: become the stage process and run it; never returns."""
    code = 1
    try:
        listener.close()
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _reopen_stdio()
        sys.argv = [request["module"], *request["args"]]
        sys.path[0] = request["cwd"]  # as `python -m` puts the working directory first
        importlib.invalidate_caches()
        code = 0
        try:
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if stop.code is not None and not isinstance(stop.code, int):
                print(stop.code, file=sys.stderr)
        except KeyboardInterrupt:
            code = 128 + signal.SIGINT
        except BaseException:  # noqa: BLE001 - reported as the interpreter reports an uncaught exception
            traceback.print_exc()
            code = 1
        for t in threading.enumerate():  # an interpreter waits for its non-daemon threads at exit
            if t is not threading.main_thread() and not t.daemon:
                t.join()
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - the child must not fall back into the server's loop
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a closed pipe at exit
                pass
        os._exit(code)


def _wait(pid: int, conn: socket.socket) -> int:
    """The child's exit status as a shell reports it; a client that hangs up has its child terminated."""
    try:
        exited = [os.pidfd_open(pid)]  # readable when the child exits (Linux >= 5.3)
    except (AttributeError, OSError):
        exited = []
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
            ready, _, _ = select.select([conn, *exited], [], [], 0.5)
            if conn in ready and not conn.recv(1, socket.MSG_PEEK):
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
                return 128 + signal.SIGTERM
    finally:
        for fd in exited:
            os.close(fd)


def serve(path: str, ready_fd: int | None = None) -> None:
    """Import :data:`PRELOAD`, then fork one stage per connection at ``path``, one at a time, until SIGTERM."""
    started_with = dict(os.environ)
    env = fingerprint(started_with)
    skipped = []
    preload = os.environ.get("AUDIOREASON_WARM_PRELOAD")
    for name in preload.split(",") if preload else PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - an optional library; its stages import it themselves
            skipped.append(f"{name} ({type(err).__name__})")
    # What the imports put in the environment (torch: TORCHINDUCTOR_CACHE_DIR, MLflow: a telemetry id): a
    # stage's own imports would have set them in its environment too, where it did not set them itself.
    set_by_imports = {k: v for k, v in os.environ.items() if started_with.get(k) != v}
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(8)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if ready_fd is not None:
        os.write(ready_fd, json.dumps({"skipped": skipped}).encode() + b"\n")
        os.close(ready_fd)
    try:
        while True:
            conn, _ = listener.accept()
            with conn:
                try:
                    request, fds = _recv(conn, with_fds=3)
                except (ConnectionError, ValueError, OSError):
                    continue
                why = None
                if request.get("python") != sys.executable:
                    why = f"the server runs {sys.executable}, the command {request.get('python')}"
                elif fingerprint(request.get("env", {})) != env:
                    changed = sorted(set(fingerprint(request["env"]).items()) ^ set(env.items()))
                    why = (
                        "the environment differs from the server's (" + ", ".join(sorted({k for k, _ in changed})) + ")"
                    )
                elif len(fds) != 3:
                    why = "the command's standard streams did not arrive"
                if why:
                    for fd in fds:
                        os.close(fd)
                    _send(conn, {"why": why})
                    continue
                pid = os.fork()
                if pid == 0:
                    request["env"] = {**set_by_imports, **request["env"]}
                    _child(request, fds, listener, conn)
                for fd in fds:
                    os.close(fd)
                _send(conn, {"pid": pid})
                try:
                    _send(conn, {"returncode": _wait(pid, conn)})
                except OSError:
                    pass
    finally:
        listener.close()
        Path(path).unlink(missing_ok=True)


@contextlib.contextmanager
def server(env: dict[str, str] | None = None) -> Iterator[str | None]:
    """A server for the block, started under ``env`` (default: this process's); yields its socket path,
    ``None`` if it did not start (commands then run as plain processes)."""
    folder = tempfile.mkdtemp(prefix="audioreason-warm-")  # short: a socket path is at most ~100 bytes
    path = os.path.join(folder, "sock")
    read_end, write_end = os.pipe()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "audioreason.warm", "serve", "--socket", path, "--ready-fd", str(write_end)],
        pass_fds=(write_end,),
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in (os.environ if env is None else env).items() if k != ENV},
    )
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        line = ready.readline()
    if line:
        skipped = json.loads(line)["skipped"]
        note = f"; not preloaded: {', '.join(skipped)}" if skipped else ""
        print(f"audioreason.warm: server ready in {time.perf_counter() - started:.1f} s{note}", file=sys.stderr)
    else:
        print("audioreason.warm: the server did not start; stages run as plain processes", file=sys.stderr)
    try:
        yield path if line else None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        Path(path).unlink(missing_ok=True)
        os.rmdir(folder)


def run_with_server(cmd: list[str]) -> int:
    """Run ``cmd`` with a server for its duration (``$AUDIOREASON_WARM`` set for it); its exit status."""
    with server() as path:
        env = {**os.environ, ENV: path} if path else dict(os.environ)
        try:
            return subprocess.call(cmd, env=env)
        except KeyboardInterrupt:
            return 128 + signal.SIGINT


USAGE = __doc__.split("Commands::")[1].split("This module")[0]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "-m":
        return run_module(argv[1], argv[2:])
    if argv[:2] == ["with", "--"] and len(argv) > 2:
        return run_with_server(argv[2:])
    if argv[:1] == ["serve"] and "--socket" in argv:
        ready = int(argv[argv.index("--ready-fd") + 1]) if "--ready-fd" in argv else None
        serve(argv[argv.index("--socket") + 1], ready)
        return 0
    print(f"usage:{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
