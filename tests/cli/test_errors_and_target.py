"""Exit codes and messages when things go wrong (a refused token, an API that does not answer, usage
errors, an answer that is not the API's), and where the API's URL and the token come from."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cli.app import run
from cli.target import BadTarget, resolve

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_captured(argv: list[str], **kwargs) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run(argv, stdout=out, stderr=err, stdin=io.StringIO(""), **kwargs)
    return code, out.getvalue(), err.getvalue()


async def test_a_refused_token_says_where_it_came_from(cli):
    answer = await cli("connections", "list", token="not-a-token")
    assert answer.code == 1 and answer.out == ""
    assert answer.err.splitlines() == [
        "error: not authenticated: send Authorization: Bearer <api token> or sign in (HTTP 401)",
        "(the token came from OI_API_TOKEN; --help says where one is looked for)",
    ]
    nothing = await cli("connections", "list", token="")
    assert nothing.code == 1
    assert nothing.err.splitlines()[-1] == "(no token was given: pass --token or set $OI_API_TOKEN)"


async def test_an_api_that_does_not_answer_is_one_line(tmp_path):
    port = closed_port()
    code, out, err = await run_captured(
        ["--api", f"http://127.0.0.1:{port}", "connections", "list"], environ={}, cwd=tmp_path
    )
    assert code == 1 and out == ""
    assert err == (
        f"error: cannot reach the API at http://127.0.0.1:{port} (nothing accepted the connection); "
        "is it running? (--api or $OI_API_URL chooses another)\n"
    )


def test_the_module_entry_point_exits_cleanly_without_a_traceback(tmp_path):
    port = closed_port()
    env = {"PATH": "/usr/bin:/bin", "OI_API_URL": f"http://127.0.0.1:{port}"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "boards", "list"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"error: cannot reach the API at http://127.0.0.1:{port} ")
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    helped = subprocess.run(
        [sys.executable, "-m", "cli", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0 and "Exit codes:" in helped.stdout


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["connections"],
        ["connections", "show"],
        ["connections", "show", "42"],
        ["activity", "00000000-0000-0000-0000-000000000001", "--outcome", "lost"],
        ["nonsense"],
        ["--api", "ftp://example", "boards", "list"],
    ],
)
async def test_usage_errors_exit_2_without_calling_the_api(argv, tmp_path):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the API must not be called: {request.url}")

    code, out, err = await run_captured(argv, environ={}, cwd=tmp_path, transport=httpx.MockTransport(refuse))
    assert code == 2 and out == ""
    assert "error:" in err


async def test_help_exits_0(tmp_path):
    code, out, _ = await run_captured(["messages", "retry-failed", "--help"], environ={}, cwd=tmp_path)
    assert code == 0 and "--since TIME" in out


async def test_an_answer_that_is_not_the_apis(tmp_path):
    """A proxy's HTML error page, or --api pointing at some other server."""

    def proxy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/boards":
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        if request.url.path == "/api/recipes":
            return httpx.Response(200, json={"items": []})
        return httpx.Response(200, text="<html>hello</html>")

    transport = httpx.MockTransport(proxy)
    code, _, err = await run_captured(["boards", "list"], environ={}, cwd=tmp_path, transport=transport)
    assert code == 1 and err == "error: Bad Gateway (the answer carried no detail) (HTTP 502)\n"
    code, _, err = await run_captured(["connections", "list"], environ={}, cwd=tmp_path, transport=transport)
    assert code == 1
    assert err == "error: the answer was not JSON; is --api the service's URL?\n"
    code, _, err = await run_captured(["recipes", "list"], environ={}, cwd=tmp_path, transport=transport)
    assert code == 1
    assert err == "error: the answer from http://127.0.0.1:8000 is not what this CLI expects\n"


def test_where_the_url_and_token_come_from(tmp_path):
    (tmp_path / ".data").mkdir()
    (tmp_path / ".data" / "admin-token").write_text("local-admin\n")
    env = {"OI_API_URL": "https://oi.corp.example/", "OUTLOOK_INTEGRATION_TOKEN": "from-issue-name"}

    assert resolve(None, None, {}, tmp_path).base_url == "http://127.0.0.1:8000"
    assert resolve(None, None, {}, tmp_path).token == "local-admin"
    assert resolve("http://localhost:9000", "flag", env, tmp_path).token == "flag"
    target = resolve(None, None, env, tmp_path)
    assert (target.base_url, target.token) == ("https://oi.corp.example", "from-issue-name")
    both = resolve(None, None, {**env, "OI_API_TOKEN": "first"}, tmp_path)
    assert both.token == "first" and both.token_source == "OI_API_TOKEN"
    # The checkout's admin token never goes to another machine.
    remote = resolve("https://oi.corp.example", None, {}, tmp_path)
    assert remote.token is None and remote.token_source == "nowhere"
    with pytest.raises(BadTarget):
        resolve("127.0.0.1:8000", None, {}, tmp_path)


def test_the_admin_token_is_found_from_a_folder_inside_the_checkout(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / ".data").mkdir(parents=True)
    (checkout / ".data" / "admin-token").write_text("local-admin\n")
    (checkout / "pyproject.toml").write_text("")
    deep = checkout / "tests" / "cli"
    deep.mkdir(parents=True)
    found = resolve(None, None, {}, deep)
    assert found.token == "local-admin"
    assert found.token_source == str(checkout / ".data" / "admin-token")
    # Not looked for above the checkout's root (the first folder up with a pyproject.toml).
    (tmp_path / ".data").mkdir()
    (tmp_path / ".data" / "admin-token").write_text("someone-else\n")
    (checkout / ".data" / "admin-token").unlink()
    assert resolve(None, None, {}, deep).token is None
    # Nor sent to another machine.
    assert resolve("https://oi.corp.example", None, {}, deep).token is None
