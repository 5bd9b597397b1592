"""The command line: parses, resolves the API and token, runs one command, and turns every failure into
one clear line and an exit code: 0 done, 1 the API refused (its detail printed), could not be reached,
or the action was not confirmed, 2 a usage error."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TextIO

import httpx

from cli.client import Api, ApiError, Unreachable
from cli.commands import activity, audit, boards, connections, messages, outbox, recipes
from cli.context import Context, Handler
from cli.output import Output
from cli.target import DEFAULT_API_URL, TOKEN_VARIABLES, URL_VARIABLE, BadTarget, Target, resolve

OK, FAILED, USAGE = 0, 1, 2
# The console script `make bootstrap` installs as .venv/bin/outlook-integration (pyproject.toml
# [project.scripts]); `python -m cli` is the same command.
SCRIPT = "outlook-integration"
PROG = "python -m cli"

EPILOG = f"""\
The API is --api, else ${URL_VARIABLE}, else {DEFAULT_API_URL}. The token is --token, else
${TOKEN_VARIABLES[0]} (or ${TOKEN_VARIABLES[1]}), else, for an API on this machine, the admin token
`make run` writes to .data/admin-token in the checkout this runs in (its root or a folder below).
Exit codes: 0 done; 1 the API refused (its reason is printed), could not be reached, or a
disconnect was not confirmed; 2 a usage error."""


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    # --json is accepted before the command and after it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="the API's JSON, for scripts"
    )
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Use and operate outlook-integration through its REST API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--api", metavar="URL", help=f"the service's base URL (${URL_VARIABLE})")
    parser.add_argument(
        "--token", help=f"an API token (${TOKEN_VARIABLES[0]} or ${TOKEN_VARIABLES[1]}, or .data/admin-token)"
    )
    parser.add_argument("--json", action="store_true", default=False, help="the API's JSON, for scripts")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (connections, activity, messages, recipes, boards, audit, outbox):
        module.register(sub, common)
    return parser


def parse(argv: list[str], out: TextIO, err: TextIO, prog: str = PROG) -> argparse.Namespace | int:
    """The arguments, or the exit code argparse chose (0 after --help, 2 for a usage error)."""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            return build_parser(prog).parse_args(argv)
        except SystemExit as stop:
            return stop.code if isinstance(stop.code, int) else USAGE


async def run(
    argv: list[str],
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: dict[str, str] | None = None,
    cwd: Path | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    prog: str = PROG,
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = parse(argv, out, err, prog)
    if isinstance(args, int):
        return args
    try:
        target = resolve(args.api, args.token, environ, cwd)
    except BadTarget as bad:
        print(f"{prog}: error: {bad}", file=err)
        return USAGE
    api = Api.open(target.base_url, target.token, transport)
    ctx = Context(api, Output(out, err, as_json=args.json), target, stdin or sys.stdin)
    try:
        handler: Handler = args.handler
        return await handler(ctx, args)
    except ApiError as refused:
        print(f"error: {refused.detail}{_status(refused)}", file=err)
        if refused.status == 401:
            print(_token_hint(target), file=err)
        return FAILED
    except Unreachable as why:
        print(
            f"error: cannot reach the API at {target.base_url} ({why}); is it running? "
            f"(--api or ${URL_VARIABLE} chooses another)",
            file=err,
        )
        return FAILED
    except (KeyError, TypeError, AttributeError):
        # JSON, but not in the shape this CLI knows: another service, or an API of another release.
        print(f"error: the answer from {target.base_url} is not what this CLI expects", file=err)
        return FAILED
    finally:
        await api.close()


def _token_hint(target: Target) -> str:
    if target.token is None:
        return f"(no token was given: pass --token or set ${TOKEN_VARIABLES[0]})"
    return f"(the token came from {target.token_source}; --help says where one is looked for)"


def _status(refused: ApiError) -> str:
    return f" (HTTP {refused.status})" if refused.status else ""


def invoked_as(argv0: str) -> str:
    """What --help and errors call the command: the console script's name, or `python -m cli`."""
    return SCRIPT if Path(argv0).name == SCRIPT else PROG


def main(argv: list[str] | None = None) -> int:
    """The console script's entry point (pyproject.toml [project.scripts]) and `python -m cli`'s."""
    try:
        return asyncio.run(run(sys.argv[1:] if argv is None else argv, prog=invoked_as(sys.argv[0])))
    except KeyboardInterrupt:
        return 130
