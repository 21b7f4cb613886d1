"""``publish``: budget, real pypiserver uploads, failures that publish nothing, install + smoke."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import NUMPY_VERSION
from publish_helpers import install_from_index, slim_numpy_wheel
from servers import Answer, Request, background, free_port, serve
from wheel_factory import index_wheel

from builder.cache import sha256_file
from builder.errors import ArgumentError, PublishError
from builder.index.budget import collect, parse_size
from builder.index.http import RetryPolicy
from builder.index.publish import publish
from builder.index.requirements import requirements_text

# passlib (htpasswd for pypiserver) still imports the stdlib crypt module.
pytestmark = pytest.mark.filterwarnings("ignore:'crypt' is deprecated:DeprecationWarning")


@dataclass(frozen=True)
class IndexServer:
    url: str
    username: str
    password: str
    packages: Path

    @property
    def simple(self) -> str:
        return f"{self.url}simple/"

    def env(self, password: str | None = None) -> dict[str, str]:
        return {"TWINE_USERNAME": self.username, "TWINE_PASSWORD": password or self.password}

    def lists(self, project: str) -> bool:
        try:
            with urllib.request.urlopen(f"{self.simple}{project}/", timeout=10):
                return True
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise


@pytest.fixture(scope="module")
def index_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """pypiserver on 127.0.0.1 with htpasswd authentication for uploads, no PyPI fallback."""
    from passlib.apache import HtpasswdFile

    root = tmp_path_factory.mktemp("pypiserver")
    packages = root / "packages"
    packages.mkdir()
    username, password = f"edge-{secrets.token_hex(4)}", f"pw-{secrets.token_hex(12)}"
    htpasswd = HtpasswdFile(str(root / "htpasswd"), new=True)
    htpasswd.set_password(username, password)
    htpasswd.save()
    port = free_port()
    cmd = [sys.executable, "-m", "pypiserver", "run", "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--passwords", str(root / "htpasswd")]
    cmd += ["--authenticate", "update", "--disable-fallback", str(packages)]
    with background(cmd, port, root / "server.log"):
        yield IndexServer(f"http://127.0.0.1:{port}/", username, password, packages)


@pytest.fixture(scope="session")
def slim_numpy() -> Path:
    """The "slimmed numpy": lean numpy 1.26.4 built from source, relabelled ``+slim``."""
    return slim_numpy_wheel()


@dataclass(frozen=True)
class Cli:
    returncode: int
    output: str

    @property
    def last_line(self) -> str:
        return [line for line in self.output.splitlines() if line.strip()][-1]


def builder_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Cli:
    """``python -m builder ARGS`` as a user runs it; stdout and stderr together."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "builder", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    return Cli(proc.returncode, proc.stdout)


def assert_one_line_error(result: Cli, *fragments: str) -> None:
    assert result.returncode != 0, result.output
    assert "Traceback" not in result.output, result.output
    assert result.last_line.startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in result.last_line, result.output


def assert_no_secrets(server: IndexServer, *texts: str) -> None:
    for text in texts:
        assert server.password not in text
        assert server.username not in text


# -- budget, input and requirements (no index needed) --------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [("5000000", 5_000_000), ("5MB", 5_000_000), ("4.5 MiB", 4_718_592), ("800k", 800_000)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "five", "-1MB", "0", "5 TB"])
def test_parse_size_refuses_nonsense(text: str) -> None:
    with pytest.raises(ArgumentError, match=re.escape(repr(text))):
        parse_size(text)


def test_budget_is_checked_for_every_wheel_before_contacting_the_index(tmp_path: Path) -> None:
    small = index_wheel(tmp_path / "dist", "small-pkg", "1.0", b"s")
    big = index_wheel(tmp_path / "dist", "big-pkg", "1.0", secrets.token_bytes(20_000))
    closed = f"http://127.0.0.1:{free_port()}/"
    args = ["publish", str(small), str(big), "--repository-url", closed, "--max-size", "10kB"]
    result = builder_cli([*args, "--report", "r.json"], tmp_path)
    assert_one_line_error(result, "over the size budget", big.name, "nothing was uploaded")
    assert small.name not in result.last_line
    assert "checking" not in result.output  # refused before any request
    assert not (tmp_path / "requirements-edge.txt").exists()
    assert not (tmp_path / "r.json").exists()


def test_check_only_measures_without_uploading(tmp_path: Path) -> None:
    wheel = index_wheel(tmp_path / "dist", "small-pkg", "1.0", b"s")
    result = builder_cli(["publish", "--check-only", str(wheel), "--report", "r.json"], tmp_path)
    assert result.returncode == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["files"][0]["size"] == wheel.stat().st_size
    assert report["files"][0]["sha256"] == sha256_file(wheel)
    assert report["max_size"] == 5_000_000


def test_credentials_in_the_url_are_refused_without_echoing_them(tmp_path: Path) -> None:
    wheel = index_wheel(tmp_path / "dist", "small-pkg", "1.0", b"s")
    url = "http://someone:hunter2-secret@127.0.0.1:9/"
    result = builder_cli(["publish", str(wheel), "--repository-url", url], tmp_path)
    assert_one_line_error(result, "must not contain credentials", "TWINE_PASSWORD")
    assert "hunter2-secret" not in result.output


def test_not_a_wheel_and_two_versions_of_one_project_are_refused(tmp_path: Path) -> None:
    first = index_wheel(tmp_path / "a", "edgepkg", "1.0")
    second = index_wheel(tmp_path / "b", "edgepkg", "2.0")
    with pytest.raises(PublishError, match="two versions"):
        collect([first, second])
    sdist = tmp_path / "edgepkg-1.0.tar.gz"
    sdist.write_bytes(b"not a wheel")
    with pytest.raises(PublishError, match="only wheels"):
        collect([sdist])


def test_requirements_pin_every_file_by_hash(tmp_path: Path) -> None:
    a = index_wheel(tmp_path, "Edge_Pkg", "1.0", b"a", requires=["numpy>=1.23"])
    b = index_wheel(tmp_path, "numpy", "1.26.4+slim", b"b")
    text = requirements_text(collect([a, b]), "--index-url https://index.example/simple/")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [
        "edge-pkg==1.0 \\",
        f"    --hash=sha256:{sha256_file(a)}",
        "numpy==1.26.4+slim \\",
        f"    --hash=sha256:{sha256_file(b)}",
    ]
    assert "--index-url https://index.example/simple/" in text


# -- a real pypiserver ---------------------------------------------------------------------------


def test_publish_uploads_and_pins_and_reruns_skip_identical_files(
    index_server: IndexServer, tmp_path: Path
) -> None:
    wheels = [
        index_wheel(tmp_path / "dist", "alpha-pkg", "1.0", b"alpha"),
        index_wheel(tmp_path / "dist", "beta-pkg", "2.0", b"beta", requires=["alpha-pkg"]),
    ]
    args = ["publish", *map(str, wheels), "--repository-url", index_server.url]
    first = builder_cli([*args, "--report", "first.json"], tmp_path, index_server.env())
    assert first.returncode == 0, first.output
    assert sorted(p.name for p in index_server.packages.iterdir()) == [w.name for w in wheels]
    report = json.loads((tmp_path / "first.json").read_text())
    assert [f["status"] for f in report["files"]] == ["uploaded", "uploaded"]
    pins = (tmp_path / "requirements-edge.txt").read_text()
    assert all(f"--hash=sha256:{sha256_file(w)}" in pins for w in wheels)

    again = builder_cli([*args, "--report", "again.json"], tmp_path, index_server.env())
    assert again.returncode == 0, again.output
    assert "already on the index, byte-identical; skipped" in again.output
    report = json.loads((tmp_path / "again.json").read_text())
    assert [f["status"] for f in report["files"]] == ["already-present", "already-present"]
    assert (tmp_path / "requirements-edge.txt").read_text() == pins
    assert_no_secrets(
        index_server,
        first.output,
        again.output,
        (tmp_path / "first.json").read_text(),
        (tmp_path / "again.json").read_text(),
        pins,
    )


def test_same_name_different_bytes_is_refused_and_nothing_is_uploaded(
    index_server: IndexServer, tmp_path: Path
) -> None:
    original = index_wheel(tmp_path / "v1", "gamma-pkg", "1.0", b"original")
    args = ["publish", str(original), "--repository-url", index_server.url]
    assert builder_cli(args, tmp_path, index_server.env()).returncode == 0
    changed = index_wheel(tmp_path / "v2", "gamma-pkg", "1.0", b"changed")
    newcomer = index_wheel(tmp_path / "v2", "delta-pkg", "1.0", b"new")
    args = ["publish", str(newcomer), str(changed), "--repository-url", index_server.url]
    result = builder_cli(args, tmp_path / "v2", index_server.env())
    assert_one_line_error(result, changed.name, "different content", "nothing was uploaded")
    assert not index_server.lists("delta-pkg")
    assert not (tmp_path / "v2" / "requirements-edge.txt").exists()
    served = urllib.request.urlopen(f"{index_server.url}packages/{original.name}").read()
    assert served == original.read_bytes()


def test_wrong_password_is_one_line_and_never_shown(
    index_server: IndexServer, tmp_path: Path
) -> None:
    wheel = index_wheel(tmp_path / "dist", "epsilon-pkg", "1.0", b"e")
    wrong = f"wrong-{secrets.token_hex(8)}"
    args = ["publish", str(wheel), "--repository-url", index_server.url, "--report", "r.json"]
    result = builder_cli(args, tmp_path, index_server.env(password=wrong))
    assert_one_line_error(result, "403", "refused the credentials", "nothing was uploaded")
    assert wrong not in result.output
    assert_no_secrets(index_server, result.output)
    assert not index_server.lists("epsilon-pkg")
    assert not (tmp_path / "r.json").exists()


def test_server_not_running_is_one_line_after_retries(tmp_path: Path) -> None:
    wheel = index_wheel(tmp_path / "dist", "zeta-pkg", "1.0", b"z")
    url = f"http://127.0.0.1:{free_port()}/"
    args = ["publish", str(wheel), "--repository-url", url, "--retries", "1"]
    credentials = {"TWINE_USERNAME": "user-x", "TWINE_PASSWORD": "p-secret"}
    result = builder_cli(args, tmp_path, credentials)
    assert_one_line_error(result, "cannot read", "refused", "after 2 attempts")
    assert "retrying in 1 s" in result.output
    assert "p-secret" not in result.output
    assert not (tmp_path / "requirements-edge.txt").exists()


def attempts_in(message: str) -> int:
    """The number of attempts a failure message states ("... (after 3 attempts)")."""
    match = re.search(r"\(after (\d+) attempts?\)", message)
    assert match, message
    return int(match.group(1))


def uploads_fail_with(status: int) -> Callable[[Request], Answer]:
    """An index that lists nothing (404) and answers every upload with ``status``."""
    return lambda request: Answer(status if request.method == "POST" else 404)


CREDENTIALS = {"TWINE_USERNAME": "user-x", "TWINE_PASSWORD": "p-secret"}


def publish_fails(wheel: Path, url: str, retries: int, match: str | None = None) -> str:
    """``publish`` to ``url`` with a quick backoff must fail; the message."""
    with pytest.raises(PublishError, match=match) as info:
        publish(
            [wheel],
            url,
            requirements=wheel.parent / "requirements-edge.txt",
            retry=RetryPolicy(retries=retries, backoff=0.01),
            environ=CREDENTIALS,
        )
    return str(info.value)


@pytest.mark.parametrize(("status", "runs"), [(503, 3), (500, 3), (429, 3), (400, 1)])
def test_5xx_and_429_are_retried_with_backoff_but_a_4xx_never(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int, runs: int
) -> None:
    wheel = index_wheel(tmp_path, "eta-pkg", "1.0", b"h")
    with serve(uploads_fail_with(status)) as server:
        message = publish_fails(wheel, server.url, 2, f"cannot upload {wheel.name}.*{status}")
    output = capsys.readouterr().err
    assert output.count("retrying in") == runs - 1
    assert output.count("twine_once upload") == runs
    # One request per attempt: twine's own retries are off, so they no longer multiply ours.
    assert len(server.paths("POST")) == runs
    if runs > 1:
        assert attempts_in(message) == runs
    assert "p-secret" not in message + output
    assert not (tmp_path / "requirements-edge.txt").exists()


@pytest.mark.parametrize("retries", [0, 2])
def test_against_an_index_answering_500_the_message_counts_the_requests_it_got(
    tmp_path: Path, retries: int
) -> None:
    """Every request answered 500: reading the index fails, and says after how many requests."""
    wheel = index_wheel(tmp_path, "theta-pkg", "1.0", b"t")
    with serve(lambda request: Answer(500)) as server:
        message = publish_fails(wheel, server.url, retries)
    assert message.startswith(f"cannot read {server.url}simple/theta-pkg/: HTTP 500")
    assert len(server.requests) == attempts_in(message) == retries + 1
    assert server.paths("POST") == []


def test_the_index_is_read_with_the_credentials_and_a_refusal_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = index_wheel(tmp_path, "lambda-pkg", "1.0", b"l")
    with serve(lambda request: Answer(401)) as server:
        message = publish_fails(wheel, server.url, 2, "the index refused the credentials")
    assert message.startswith(f"cannot read {server.url}simple/lambda-pkg/: HTTP 401")
    sent = base64.b64encode(b"user-x:p-secret").decode()
    assert [r.headers.get("Authorization") for r in server.requests] == [f"Basic {sent}"]
    assert "p-secret" not in message + capsys.readouterr().err


def test_the_cli_states_the_uploads_the_index_received(tmp_path: Path) -> None:
    """The issue's case through the command line: 15 POSTs for "--retries 2" before."""
    wheel = index_wheel(tmp_path / "dist", "iota-pkg", "1.0", b"i")
    with serve(uploads_fail_with(500)) as server:
        args = ["publish", str(wheel), "--repository-url", server.url, "--retries", "1"]
        result = builder_cli(args, tmp_path, CREDENTIALS)
    assert_one_line_error(result, f"cannot upload {wheel.name}", "500", "nothing was uploaded")
    assert len(server.paths("POST")) == attempts_in(result.last_line) == 2
    assert "retrying in 1 s" in result.output


def test_twine_once_makes_one_request_where_twine_makes_several(tmp_path: Path) -> None:
    wheel = index_wheel(tmp_path, "kappa-pkg", "1.0", b"k")
    env = {**os.environ, **CREDENTIALS, "NO_COLOR": "1"}
    posts = {}
    for module in ("twine", "builder.index.twine_once"):
        with serve(uploads_fail_with(503)) as server:
            cmd = [sys.executable, "-m", module, "upload", "--non-interactive"]
            cmd += ["--repository-url", server.url, str(wheel)]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and "HTTPError: 503" in proc.stdout + proc.stderr
        posts[module] = len(server.paths("POST"))
    assert posts["builder.index.twine_once"] == 1
    assert posts["twine"] > 1  # twine's own re-posts: why twine_once exists


# -- the real stack ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.network
def test_stock_numpy_is_refused_by_the_budget(
    index_server: IndexServer, tmp_path: Path, stock_numpy: Path
) -> None:
    stock = stock_numpy
    assert stock.stat().st_size > 15_000_000
    args = ["publish", str(stock), "--repository-url", index_server.url]
    result = builder_cli(args, tmp_path, index_server.env())
    assert_one_line_error(result, "over the size budget", stock.name, "nothing was uploaded")
    assert stock.name not in [p.name for p in index_server.packages.iterdir()]


@pytest.mark.slow
@pytest.mark.network
def test_published_stack_installs_from_the_index_and_runs_the_smoke_models(
    index_server: IndexServer, tmp_path: Path, slim_numpy: Path, runtime_wheel: Path
) -> None:
    from builder.smoke import run_suite

    args = ["publish", str(slim_numpy), str(runtime_wheel), "--repository-url", index_server.url]
    result = builder_cli([*args, "--report", "publish.json"], tmp_path, index_server.env())
    assert result.returncode == 0, result.output
    report_text = (tmp_path / "publish.json").read_text()
    requirements = tmp_path / "requirements-edge.txt"
    assert_no_secrets(index_server, result.output, report_text, requirements.read_text())
    sizes = {f["file"]: f["size"] for f in json.loads(report_text)["files"]}
    assert all(size <= 5_000_000 for size in sizes.values()), sizes

    slim_version = f"{NUMPY_VERSION}+slim"
    env, _ = install_from_index(
        tmp_path / "plain", index_server.simple, [f"numpy=={slim_version}", "tflite-runtime"]
    )
    assert env.installed() == {"numpy": slim_version, "tflite-runtime": "2.14.0"}
    suite = run_suite(env.python)
    assert suite.ok, suite.summary()

    pinned, output = install_from_index(
        tmp_path / "pinned", index_server.simple, ["--require-hashes", "-r", str(requirements)]
    )
    assert pinned.installed() == {"numpy": slim_version, "tflite-runtime": "2.14.0"}
    assert "pypi.org" not in output
