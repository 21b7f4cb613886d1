"""The one HTTP layer against real servers on 127.0.0.1: retries (counted on the server),
same-origin Basic auth across redirects, atomic hash-checked downloads, the cache re-check."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from servers import Answer, Request, serve

from builder.errors import DownloadError
from builder.index import http
from builder.index.http import (
    RetryPolicy,
    display,
    download,
    download_cached,
    get,
    get_if_exists,
    split_credentials,
)

FAST = RetryPolicy(retries=2, backoff=0.01)
PAYLOAD = b"wheel bytes " * 1000
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def answers(*replies: Answer) -> Callable[[Request], Answer]:
    """Answer requests with ``replies`` in turn, the last one from then on."""
    queue = list(replies)
    return lambda request: queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_answers_are_retried_until_one_succeeds(
    status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(answers(Answer(status), Answer(status), Answer(200, b"ok", "text/html"))) as server:
        response = get(f"{server.url}simple/", retry=FAST)
    assert (response.body, response.content_type) == (b"ok", "text/html")
    assert len(server.requests) == 3
    err = capsys.readouterr().err
    assert err.count("retrying in") == 2 and f"HTTP {status}" in err


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_the_attempts_in_the_message_are_the_requests_the_server_got(retries: int) -> None:
    with serve(answers(Answer(500))) as server, pytest.raises(DownloadError) as info:
        get(f"{server.url}simple/x/", retry=RetryPolicy(retries, backoff=0.01))
    attempts = retries + 1
    plural = "s" if attempts > 1 else ""
    assert str(info.value) == (
        f"cannot read {server.url}simple/x/: HTTP 500 Internal Server Error "
        f"(after {attempts} attempt{plural})"
    )
    assert len(server.requests) == attempts
    assert info.value.status == 500


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_4xx_is_final_at_once(status: int, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(answers(Answer(status))) as server:
        with pytest.raises(DownloadError, match=f"HTTP {status}") as info:
            get(server.url, retry=FAST)
        assert info.value.status == status
        assert "after" not in str(info.value)
        if status == 404:
            assert get_if_exists(server.url, retry=FAST) is None
    assert len(server.requests) == (2 if status == 404 else 1)
    assert "retrying" not in capsys.readouterr().err


def test_a_refused_connection_is_retried_and_counted(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(answers(Answer())) as server:
        url = server.url
    with pytest.raises(DownloadError, match=r"refused \(after 3 attempts\)$"):
        get(url, retry=FAST)
    assert capsys.readouterr().err.count("retrying in") == 2


def _auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credentials_go_to_their_own_origin_only_even_across_redirects() -> None:
    with serve(answers(Answer(200, b"elsewhere"))) as other:
        redirects: dict[str, str] = {
            "/simple/away/": f"{other.url}files/x",
            "/simple/home/": "/files/x",
        }

        def index(request: Request) -> Answer:
            if request.path in redirects:
                return Answer(302, headers={"Location": redirects[request.path]})
            return Answer(200, b"home")

        with serve(index) as home:
            base, auth = split_credentials(
                home.url.replace("//", "//alice:s3cret%20pw@") + "simple"
            )
            assert base == f"{home.url}simple" and auth is not None
            assert get(f"{base}/home/", auth=auth).body == b"home"
            assert get(f"{base}/away/", auth=auth).body == b"elsewhere"
    wanted = _auth_header("alice", "s3cret pw")
    assert [(r.path, r.headers.get("Authorization")) for r in home.requests] == [
        ("/simple/home/", wanted),
        ("/files/x", wanted),  # a redirect within the origin keeps them
        ("/simple/away/", wanted),
    ]
    assert [(r.path, r.headers.get("Authorization")) for r in other.requests] == [
        ("/files/x", None)  # another origin (same host, other port) never sees them
    ]


def test_credentials_never_appear_in_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(answers(Answer(503), Answer(401))) as server:
        url, auth = split_credentials(server.url.replace("//", "//alice:s3cret-pw@"))
        with pytest.raises(DownloadError, match="HTTP 401") as info:
            get(url, auth=auth, retry=FAST)
    shown = str(info.value) + capsys.readouterr().err + display(server.url + "?q#f")
    assert "s3cret" not in shown and "alice" not in shown
    assert display("https://alice:s3cret@host:8443/simple/?token=s3cret#x") == (
        "https://host:8443/simple/"
    )


def test_download_streams_checks_the_hash_and_moves_into_place(tmp_path: Path) -> None:
    with serve(answers(Answer(200, PAYLOAD))) as server:
        target = download(f"{server.url}f.whl", tmp_path / "cache" / "f.whl", PAYLOAD_SHA)
        assert target.read_bytes() == PAYLOAD
        with pytest.raises(DownloadError, match="does not match the recipe 0000"):
            download(f"{server.url}f.whl", tmp_path / "bad" / "f.whl", "0" * 64, pinned_by="recipe")
    assert list((tmp_path / "bad").iterdir()) == []  # no file, no temporary left
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["f.whl"]


def test_a_download_cut_short_is_retried_and_never_left_half_written(tmp_path: Path) -> None:
    short = Answer(200, PAYLOAD[:100], headers={"Content-Length": str(len(PAYLOAD))})
    with serve(answers(short, Answer(200, PAYLOAD))) as server:
        assert download(server.url, tmp_path / "f", PAYLOAD_SHA, retry=FAST).read_bytes() == PAYLOAD
    assert len(server.requests) == 2
    cut = (
        r"^cannot download .*: the connection closed after 100 of 12000 bytes \(after 3 attempts\)$"
    )
    with serve(answers(short)) as server, pytest.raises(DownloadError, match=cut):
        download(server.url, tmp_path / "g", retry=FAST)
    assert len(server.requests) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_a_missing_local_file_is_final(tmp_path: Path) -> None:
    missing = (tmp_path / "nothing.tar.gz").as_uri()
    with pytest.raises(
        DownloadError, match=r"^cannot download file://.*nothing\.tar\.gz: "
    ) as info:
        download(missing, tmp_path / "out" / "x", retry=FAST)
    assert "after" not in str(info.value)


@pytest.mark.parametrize(
    "damage", [lambda data: data[:-1] + b"!", lambda data: data[:100], lambda data: b""]
)
def test_a_cached_file_is_reused_only_while_its_hash_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: Callable[[bytes], bytes]
) -> None:
    target = tmp_path / "cache" / "f.whl"
    with serve(answers(Answer(200, PAYLOAD))) as server:
        download_cached(server.url, target, PAYLOAD_SHA)
        download_cached(server.url, target, PAYLOAD_SHA)
        assert len(server.requests) == 1  # the second call re-checked the file, fetched nothing
        target.write_bytes(damage(PAYLOAD))  # tampered, truncated or emptied in the cache
        capsys.readouterr()
        download_cached(server.url, target, PAYLOAD_SHA)
        assert len(server.requests) == 2
    assert target.read_bytes() == PAYLOAD
    [moved] = (target.parent / "quarantine").iterdir()  # kept as evidence, out of the way
    assert moved.read_bytes() == damage(PAYLOAD)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and f"moved aside to {moved}, fetching it again" in warnings[0]
    assert f"does not match the expected {PAYLOAD_SHA}" in warnings[0]


def test_the_default_policy_is_the_one_retrying_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "DEFAULT_RETRY", RetryPolicy(retries=4, backoff=0.001))
    with serve(answers(Answer(502))) as server, pytest.raises(DownloadError, match="5 attempts"):
        get(server.url)
    assert len(server.requests) == 5
    assert RetryPolicy().delay(0) == 1 and RetryPolicy().delay(2) == 4
