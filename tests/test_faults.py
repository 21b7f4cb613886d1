"""The fault cases of issue 15, end to end: what a careless user, a damaged disk or an attacker
with write access to the cache does, and what the builder must do about it.

* outputs that can never be written (``--out`` is a file, ``--report`` a directory or in an
  unwritable place) are refused in one line before any download, build, search or upload;
* a malformed model is refused in one line naming it before any environment exists (malformed
  versions, numbers and globs: ``test_cli.py``);
* SIGTERM ends a run like Ctrl-C: children killed, every temporary directory removed (pip's
  too), one line, exit 143;
* a tampered cached wheel (its RECORD made consistent), a truncated one, and a flipped verdict are
  never trusted: moved aside with one warning line and fetched or judged again, the output
  byte-identical to a clean run's;
* a 500-answering index gets exactly the requests the failure message states.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    SMOKE_DIR,
    assert_one_line_error,
    cli,
    require_tflite_runtime,
    stock_numpy_wheel,
    tflite_runtime_wheel,
)
from packaging.requirements import Requirement
from servers import Answer, Request, StubServer, serve
from wheel_factory import build_wheel

from builder.cache import child_temp_env, scratch_dir
from builder.errors import DownloadError
from builder.index.simple_index import build_index
from builder.pypi import download_wheel, find_cached_wheel
from builder.runner import Terminated, sigterm_raises
from builder.wheelfile import Wheel

# -- outputs that can never be written -------------------------------------------------------


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A directory no file can be created in: read-only permissions, or for root (whom
    permissions do not stop) /proc, where the kernel creates nothing on request."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        if not sys.platform.startswith("linux"):
            pytest.skip("root ignores permissions; /proc is Linux's")
        yield Path("/proc")
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        yield locked
    finally:
        locked.chmod(stat.S_IRWXU)


def _command_lines(tmp_path: Path, server_url: str) -> dict[str, list[str | Path]]:
    """Each command with arguments that would start real work (a download, a build, an
    environment, an upload) if its outputs were not checked first."""
    wheel = build_wheel(tmp_path / "dist", "demo", "1.0")
    numpy = build_wheel(tmp_path / "fake", "numpy", "1.26.4")
    platform = ["--platform", "linux_x86_64"]
    return {
        "verify": ["verify", wheel],
        "slim": ["slim", "numpy", "--wheel", numpy, "--no-strip"],
        "stack": ["stack", "--numpy-from", "pypi"],
        "build numpy": ["build", "numpy", "--version", "1.26.4"],
        "build tflite-runtime": ["build", "tflite-runtime", "--tf-version", "2.21.0", *platform],
        "publish": ["publish", wheel, "--repository-url", server_url],
        "index": ["index", tmp_path / "dist"],
    }


OUT = {"slim", "stack", "build numpy", "build tflite-runtime", "index"}
COMMANDS = ["verify", "slim", "stack", "build numpy", "build tflite-runtime", "publish", "index"]


def _refused_before_any_work(
    tmp_path: Path, command: str, extra: list[str | Path], fragment: str
) -> None:
    with serve(lambda request: Answer(500)) as server:
        args = _command_lines(tmp_path, server.url)[command]
        before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        proc = cli(*args, *extra, cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert proc.returncode == 2, proc.stderr
    assert fragment in line, line
    for work in ("downloading", "creating environment", "checking", "indexing", "building"):
        assert work not in proc.stderr, proc.stderr
    assert server.requests == []
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("command", sorted(OUT))
def test_out_is_a_file(tmp_path: Path, command: str) -> None:
    target = tmp_path / "taken"
    target.write_text("not a directory\n")
    _refused_before_any_work(
        tmp_path, command, ["--out", target], f"--out {target}: exists and is not a directory"
    )
    assert target.read_text() == "not a directory\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_report_is_a_directory(tmp_path: Path, command: str) -> None:
    report = tmp_path / "reports"
    report.mkdir()
    extra: list[str | Path] = ["--report", report]
    if command in OUT:
        extra += ["--out", tmp_path / "out"]
    _refused_before_any_work(tmp_path, command, extra, f"--report {report}: is a directory")


@pytest.mark.parametrize("command", COMMANDS)
def test_unwritable_report(tmp_path: Path, unwritable: Path, command: str) -> None:
    report = unwritable / "report.json"
    extra: list[str | Path] = ["--report", report]
    if command in OUT:
        extra += ["--out", tmp_path / "out"]
    _refused_before_any_work(tmp_path, command, extra, f"cannot write in {unwritable}")
    assert not report.exists()


@pytest.mark.parametrize(
    ("command", "option"),
    [("slim", "--out"), ("index", "--out"), ("publish", "--requirements"), ("verify", "--report")],
)
def test_an_output_below_a_file(tmp_path: Path, command: str, option: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _refused_before_any_work(
        tmp_path, command, [option, blocker / "sub" / "out"], f"below {blocker}, which is not"
    )


def test_unwritable_out_and_requirements(tmp_path: Path, unwritable: Path) -> None:
    _refused_before_any_work(
        tmp_path, "slim", ["--out", unwritable / "dist"], f"cannot write in {unwritable}"
    )
    requirements = unwritable / "requirements-edge.txt"
    _refused_before_any_work(
        tmp_path, "publish", ["--requirements", requirements], f"cannot write in {unwritable}"
    )


# -- models that are not models --------------------------------------------------------------


MALFORMED = {
    "empty": lambda good: b"",
    "truncated": lambda good: good[: len(good) // 3],
    "random": lambda good: bytes((i * 7919 + 13) % 251 for i in range(len(good))),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("command", ["verify", "slim", "stack"])
def test_a_malformed_model_is_one_line_before_any_environment(
    tmp_path: Path, command: str, kind: str
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("cnn_float32", "cnn_int8"):  # one good model beside the bad one
        for suffix in (".tflite", ".input.npz", ".expected.npz"):
            shutil.copy(SMOKE_DIR / f"{name}{suffix}", models)
    bad = models / "cnn_int8.tflite"
    bad.write_bytes(MALFORMED[kind](bad.read_bytes()))
    wheel = build_wheel(tmp_path / "dist", "numpy", "1.26.4")
    args: dict[str, list[str | Path]] = {
        "verify": ["verify", wheel],
        "slim": ["slim", "numpy", "--wheel", wheel, "--out", tmp_path / "out"],
        "stack": ["stack", "--out", tmp_path / "out"],
    }
    started = time.monotonic()
    proc = cli(*args[command], "--models", models, cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert line.startswith(f"error: {bad}: ")
    assert "not a valid TensorFlow Lite model" in line
    assert proc.returncode == 2
    assert "creating environment" not in proc.stderr and "downloading" not in proc.stderr
    assert time.monotonic() - started < 30  # seconds of parsing, not of environments
    assert not (tmp_path / "out").exists()


# -- SIGTERM -----------------------------------------------------------------------------------


def default_signals() -> None:
    """``preexec_fn``: SIGTERM and SIGINT at their default dispositions in the child, whatever
    the suite's (a suite run in the background ignores SIGINT; see conftest)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the running processes that mention ``text`` (Linux: /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if text in line:
            found.append(line)
    return found


def builder_env(env: dict[str, str | None]) -> dict[str, str]:
    """This environment with ``env`` over it (None: unset), as ``conftest.cli`` runs the CLI."""
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    for name, value in {"PYTHONPATH": None, **env}.items():
        full_env.pop(name, None)
        if value is not None:
            full_env[name] = value
    return full_env


def terminate_at(
    args: list[str | Path],
    cwd: Path,
    env: dict[str, str | None],
    marker: str,
    delay: float,
    how: signal.Signals = signal.SIGTERM,
) -> tuple[int, str]:
    """Run ``python -m builder ARGS`` with ``env`` (None: unset); ``delay`` s after a stderr line
    containing ``marker``, send ``how``; the exit code and all of stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder", *map(str, args)],
        cwd=cwd,
        env=builder_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if marker in line:
            break
    time.sleep(delay)
    proc.send_signal(how)
    lines.append(proc.stderr.read())
    return proc.wait(120), "".join(lines)


ENDINGS = {
    signal.SIGTERM: (143, "terminated: nothing was written"),
    signal.SIGINT: (130, "interrupted: nothing was written to the output"),
}


def assert_terminated_cleanly(
    code: int, output: str, temp: Path, how: signal.Signals = signal.SIGTERM
) -> None:
    assert (code, output.rstrip().splitlines()[-1]) == ENDINGS[how], output
    assert "Traceback" not in output
    assert sorted(temp.rglob("*")) == []  # ours and pip's: every temporary directory is gone
    assert processes_mentioning(str(temp)) == []  # every child killed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_pip_runs_kills_it_and_removes_its_temporary_directories(
    tmp_path: Path, how: signal.Signals
) -> None:
    """pip, killed with its process group, cannot remove its own ``pip-*`` directories (before:
    left behind in 2 of 7 runs interrupted while an environment was made): they must lie inside
    the builder's, which is removed. The index never answers, so pip is certainly still running
    when the signal comes."""
    wheel = build_wheel(tmp_path / "dist", "demo", "1.0")
    temp = tmp_path / "tmp"
    temp.mkdir()
    release = threading.Event()

    def hang(request: object) -> Answer:
        release.wait(120)
        return Answer(503)

    with serve(hang) as index:
        env = {"TMPDIR": str(temp), "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": None}
        env["PIP_INDEX_URL"] = f"{index.url}simple/"
        code, output = terminate_at(["verify", wheel], tmp_path, env, " install ", 2.0, how)
        release.set()
    assert index.requests, "pip was asking the index when the signal came"
    assert_terminated_cleanly(code, output, temp, how)


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_mid_search_leaves_nothing(stock_numpy: Path, tmp_path: Path) -> None:
    """The issue's case: SIGTERM while the search runs models left 85-96 MB of temporary
    directories every time and exited without a word."""
    temp, out = tmp_path / "tmp", tmp_path / "out"
    temp.mkdir()
    env: dict[str, str | None] = {"TMPDIR": str(temp)}
    env["TFLITE_EDGE_BUILDER_CACHE"] = str(tmp_path / "cache")  # no verdicts: real oracle runs
    args: list[str | Path] = ["slim", "numpy", "--wheel", stock_numpy, "--out", out]
    code, output = terminate_at(args, tmp_path, env, "search:", 3.0)
    assert "run   1" in output  # the oracle was running models
    assert_terminated_cleanly(code, output, temp)
    assert not out.exists()


def test_sigterm_raises_once_inside_the_block_and_only_where_it_was_not_ignored() -> None:
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with pytest.raises(Terminated), sigterm_raises():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with sigterm_raises():  # an inherited SIG_IGN stays: the signal is not for us
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        assert issubclass(Terminated, KeyboardInterrupt)  # every Ctrl-C cleanup applies
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_child_processes_get_a_temporary_directory_inside_the_scratch_directory() -> None:
    assert child_temp_env() == {}
    with scratch_dir("outer") as outer:
        assert Path(child_temp_env()["TMPDIR"]).parent == outer
        with scratch_dir("inner") as inner:
            env = child_temp_env()
            assert Path(env["TMPDIR"]).parent == inner and env["TEMP"] == env["TMPDIR"]
        assert Path(child_temp_env()["TMPDIR"]).parent == outer
    assert not outer.exists() and not inner.exists()
    assert child_temp_env() == {}


# -- the download cache ----------------------------------------------------------------------


def serve_directory(root: Path) -> Callable[[Request], Answer]:
    """Answers from a directory, as a static file host does (``DIR/index.html`` for ``DIR/``)."""

    def answer(request: Request) -> Answer:
        path = root / urllib.parse.unquote(request.path.split("?")[0]).lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            return Answer(404)
        kind = "text/html" if path.suffix == ".html" else "application/octet-stream"
        return Answer(200, path.read_bytes(), kind)

    return answer


@dataclass
class LocalIndex:
    """A PEP 503 index on 127.0.0.1 (written by ``builder index``) that pip alone sees."""

    server: StubServer
    wheel: Path  # the file the index serves
    cache: Path  # the builder's cache for this test

    def file_requests(self) -> int:
        return sum(path.endswith(".whl") for path in self.server.paths())


@pytest.fixture
def local_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalIndex]:
    wheel = build_wheel(tmp_path / "dist", "demo", "1.0", requires=())
    build_index(tmp_path / "dist", tmp_path / "index")
    cache = tmp_path / "cache"
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(cache))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # no other index, no find-links
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")  # every file pip wants is a request we count
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    with serve(serve_directory(tmp_path / "index")) as server:
        monkeypatch.setenv("PIP_INDEX_URL", server.url)  # the index root is the server's root
        yield LocalIndex(server, wheel, cache)


def tampered_demo(where: Path) -> bytes:
    """The index's demo 1.0 with code injected into a module and its RECORD updated to match: a
    wheel that passes every check a wheel can pass, but is not the index's."""
    injected = b"import os\nos.system('echo injected')\ndef answer():\n    return 42\n"
    files = {"demo/core.py": injected}
    forged = build_wheel(where / "forged", "demo", "1.0", files=files, requires=())
    Wheel.open(forged)  # a consistent wheel: RECORD matches every member
    return forged.read_bytes()


DAMAGE: dict[str, Callable[[Path, Path], bytes]] = {
    "tampered with a consistent RECORD": lambda wheel, where: tampered_demo(where),
    "truncated": lambda wheel, where: wheel.read_bytes()[: wheel.stat().st_size // 2],
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_cached_wheel_is_quarantined_and_downloaded_again(
    local_index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    original = local_index.wheel.read_bytes()
    cached = download_wheel("demo==1.0")
    assert cached.read_bytes() == original and local_index.file_requests() >= 1
    manifest = json.loads(cached.with_name(cached.name + ".origin.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(original).hexdigest()  # the index's #sha256=
    assert manifest["url"] == f"{local_index.server.url}demo/{cached.name}"
    requests = len(local_index.server.requests)
    assert download_wheel("demo==1.0") == cached
    assert len(local_index.server.requests) == requests  # reused after its check: no request

    bad = DAMAGE[damage](cached, tmp_path)
    cached.write_bytes(bad)
    capsys.readouterr()
    assert download_wheel("demo==1.0") == cached
    assert cached.read_bytes() == original  # the index's bytes, never the damaged ones
    assert len(local_index.server.requests) > requests  # fetched again from the index
    [moved] = (cached.parent / "quarantine").iterdir()
    assert moved.read_bytes() == bad
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1, warnings
    assert f"cached {cached.name}: sha256 " in warnings[0]
    assert f"does not match the recorded {manifest['sha256']}" in warnings[0]
    assert f"moved aside to {moved}" in warnings[0]


def test_a_wheel_cached_without_its_sha256_is_checked_against_the_index(
    local_index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wheel an older builder cached has no manifest: pip's resolution must vouch for it."""
    wheels = local_index.cache / "wheels"
    wheels.mkdir(parents=True)
    legacy = wheels / local_index.wheel.name
    legacy.write_bytes(tampered_demo(tmp_path))
    assert find_cached_wheel(Requirement("demo==1.0")) is None  # not trusted for being there
    assert download_wheel("demo==1.0") == legacy
    assert legacy.read_bytes() == local_index.wheel.read_bytes()
    assert "does not match the index's" in capsys.readouterr().err
    assert find_cached_wheel(Requirement("demo==1.0")) == legacy  # now with its manifest


def test_an_index_serving_other_bytes_than_its_sha256_says_is_refused(
    local_index: LocalIndex, tmp_path: Path
) -> None:
    served = tmp_path / "index" / "demo" / local_index.wheel.name
    served.write_bytes(tampered_demo(tmp_path))  # the page still lists the true sha256
    true = hashlib.sha256(local_index.wheel.read_bytes()).hexdigest()
    with pytest.raises(DownloadError, match=f"with sha256 [0-9a-f]{{64}}, not the {true} it lists"):
        download_wheel("demo==1.0")
    assert list((local_index.cache / "wheels").glob("*.whl")) == []


# -- the cache, end to end: slim tflite-runtime from a private index ---------------------------


@dataclass(frozen=True)
class CleanSlim:
    """``slim tflite-runtime`` once, from a cold cache: what every later run must reproduce."""

    env: dict[str, str | None]  # the builder's cache, and pip seeing only the private index
    cache: Path
    wheel: bytes  # the slim wheel's bytes
    name: str


def slim_runtime(
    env: dict[str, str | None], out: Path
) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = out / "report.json"
    # zlib: compression is not this test's subject, and zopfli costs ~19 s per slim here
    args = [
        "slim",
        "tflite-runtime",
        "--compress",
        "deflate",
        "--out",
        out / "dist",
        "--report",
        report,
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "builder", *map(str, args)],
        cwd=out.parent,
        env=builder_env(env),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return proc, json.loads(report.read_text())


@pytest.fixture(scope="module")
def clean_slim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleanSlim]:
    """A private index holding PyPI's tflite-runtime 2.14.0 and numpy 1.26.4 (so that pip gets
    them from 127.0.0.1 and nowhere else) and one slim of the runtime through it."""
    require_tflite_runtime()
    root = tmp_path_factory.mktemp("cache-e2e")
    for wheel in (tflite_runtime_wheel(), stock_numpy_wheel()):
        (root / "dist").mkdir(exist_ok=True)
        shutil.copy(wheel, root / "dist")
    build_index(root / "dist", root / "index")
    cache = root / "cache"
    with serve(serve_directory(root / "index")) as server:
        env: dict[str, str | None] = {
            "TFLITE_EDGE_BUILDER_CACHE": str(cache),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_FIND_LINKS": None,
            "PIP_EXTRA_INDEX_URL": None,
            "PIP_INDEX_URL": server.url,
        }
        _, report = slim_runtime(env, root / "clean")
        assert report["oracle"]["runs"] >= 1 and report["oracle"]["cache_hits"] == 0
        wheel = Path(report["output"])
        yield CleanSlim(env, cache, wheel.read_bytes(), wheel.name)


def cached_runtime(clean: CleanSlim) -> Path:
    [wheel] = (clean.cache / "wheels").glob("tflite_runtime-*.whl")
    return wheel


def inject(wheel: Path, marker: Path) -> bytes:
    """``wheel`` with code in ``tflite_runtime/__init__.py`` that leaves ``marker`` wherever it
    is imported, and a RECORD that matches: the issue's attack on the cache."""
    forged = Wheel.open(wheel)
    code = f"\nimport pathlib\npathlib.Path({str(marker)!r}).write_text('injected')\n"
    forged.replace(
        "tflite_runtime/__init__.py", forged.read("tflite_runtime/__init__.py") + code.encode()
    )
    written = forged.write(marker.parent / "forged")
    Wheel.open(written)  # a wheel as sound as the index's: RECORD matches every member
    return written.read_bytes()


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize("damage", ["tampered with a consistent RECORD", "truncated"])
def test_slim_never_uses_a_damaged_cached_wheel(
    clean_slim: CleanSlim, tmp_path: Path, damage: str
) -> None:
    """Before: the tampered wheel was slimmed and shipped (exit 0); the truncated one was refused
    on every run, never downloaded again."""
    cached = cached_runtime(clean_slim)
    good = cached.read_bytes()
    marker = tmp_path / "injected-code-ran"
    bad = inject(cached, marker) if damage.startswith("tampered") else good[: len(good) // 2]
    cached.write_bytes(bad)
    proc, _ = slim_runtime(clean_slim.env, tmp_path / "run")
    assert (tmp_path / "run" / "dist" / clean_slim.name).read_bytes() == clean_slim.wheel
    assert not marker.exists()  # the injected code never ran, not even in the search
    assert cached.read_bytes() == good
    moved = [p for p in (cached.parent / "quarantine").iterdir() if p.read_bytes() == bad]
    assert len(moved) == 1
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: cached")]
    assert len(warnings) == 1 and f"moved aside to {moved[0]}" in warnings[0], proc.stderr


@pytest.mark.slow
@pytest.mark.network
def test_slim_ignores_a_flipped_verdict(clean_slim: CleanSlim, tmp_path: Path) -> None:
    """Before: one verdict flipped from true to false gave exit 0 and another wheel."""
    [verdicts] = (clean_slim.cache / "verdicts").glob("*.json")
    data = json.loads(verdicts.read_text())
    passed = [key for key, entry in data["verdicts"].items() if entry["pass"]]
    assert passed, data
    data["verdicts"][passed[0]]["pass"] = False
    verdicts.write_text(json.dumps(data))
    proc, report = slim_runtime(clean_slim.env, tmp_path / "run")
    assert (tmp_path / "run" / "dist" / clean_slim.name).read_bytes() == clean_slim.wheel
    assert report["oracle"]["runs"] == 1  # the flipped candidate, judged again; the rest cached
    assert f"{verdicts}: ignored 1 of {len(data['verdicts'])} verdicts" in proc.stderr


# -- retries against a 500-answering index -----------------------------------------------------


@pytest.mark.slow  # the default backoff waits 1 + 2 + 4 s
@pytest.mark.parametrize("failing", ["uploads", "every request"])
def test_a_500_answering_index_gets_exactly_the_attempts_the_message_states(
    tmp_path: Path, failing: str
) -> None:
    """Before: 20 POSTs with the default policy (twine's retries inside each of ours) and a
    message saying "after 4 attempts"."""
    wheel = build_wheel(tmp_path / "dist", "demo", "1.0")

    def answer(request: Request) -> Answer:
        return Answer(500 if failing == "every request" or request.method == "POST" else 404)

    credentials = {"TWINE_USERNAME": "user", "TWINE_PASSWORD": "secret-pw"}
    with serve(answer) as index:
        proc = cli("publish", wheel, "--repository-url", index.url, cwd=tmp_path, env=credentials)
    line = assert_one_line_error(proc)
    attempts = re.search(r"\(after (\d+) attempts\)", line)
    assert attempts is not None and int(attempts.group(1)) == 4, line  # the default policy
    assert "HTTP 500" in line
    if failing == "uploads":
        assert len(index.paths("POST")) == 4 and "nothing was uploaded" in line
    else:  # reading what the index holds fails first: nothing is ever posted
        assert len(index.requests) == 4 and index.paths("POST") == []
    assert not (tmp_path / "requirements-edge.txt").exists()
    assert "secret-pw" not in proc.stdout + proc.stderr
