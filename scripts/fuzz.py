"""Fuzzing the REST API from its OpenAPI document with schemathesis (issue 17 §2): a real
`chatbridge serve` on loopback (embedded store, XMPP off), then `st run` against its
`/openapi.json` in three passes:

1. with a user session, every operation but those that end sessions or the account;
2. those (sessions, logins, the account), each example with the session of the moment;
3. without credentials, every operation.

Checks: `not_a_server_error` (no 5xx) and the answers' conformance to the document (status codes,
content types, schemas). The server's log is searched for tracebacks afterwards. Exit status:
non-zero when a pass failed or the log holds a traceback.

    .venv/bin/python scripts/fuzz.py [--examples 15] [--st .venv-fuzz/bin/st]   (`make fuzz`)
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import UNLIMITED, free_port, wait_http  # noqa: E402

AUTH_KEY = "fuzz-auth-key"
# rate limits off: the fuzzer logs in wrongly and signs up much faster than any person
NO_LIMITS = {**UNLIMITED, **{f"CHAT_RATE_LIMITS__{name}": "" for name in (
    "LOGIN_FAILURES_PER_LOGIN", "LOGIN_FAILURES_PER_ADDRESS", "ADMIN_FAILURES_PER_ADDRESS",
    "REPORTS_PER_USER", "REFRESH_FAILURES_PER_ADDRESS", "SIGNUPS_PER_ADDRESS")}}
ENDING = r"^/(session|login|sessions|users)(/\{[^/]+\}|/refresh)?(\.json)?$"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


async def user_token(url: str, login: str) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/session.json",
                                json={"application_id": 1, "auth_key": AUTH_KEY}) as r:
            app = (await r.json())["session"]["token"]
        async with session.post(f"{url}/users.json", headers={"CB-Token": app},
                                json={"user": {"login": login, "password": "password123"}}) as r:
            assert r.status == 201, await r.text()
        async with session.post(f"{url}/session.json", json={
                "application_id": 1, "auth_key": AUTH_KEY,
                "user": {"login": login, "password": "password123"}}) as r:
            return (await r.json())["session"]["token"]


def run_pass(st: str, url: str, name: str, examples: int, args: list[str]) -> tuple[int, str]:
    print(f"== pass: {name}", flush=True)
    proc = subprocess.run([st, "run", f"{url}/openapi.json", "-n", str(examples), "-c", CHECKS,
                           "--workers", "2", "--suppress-health-check", "all", "--seed", "1",
                           *args], capture_output=True, text=True, cwd=tempfile.gettempdir())
    out = proc.stdout + proc.stderr
    summary = out[out.rfind("SUMMARY"):] if "SUMMARY" in out else out[-3000:]
    print(summary, flush=True)
    cases = re.search(r"Test cases:\s*\n\s*(.+)", summary)
    line = cases.group(1).strip() if cases else "no test cases reported"
    # a failed case is the server's fault; schemathesis' own "Runtime Error"s (a generator that
    # crashed inside Hypothesis) are reported, not counted against the server
    bad = cases is None or "failed" in line
    if bad:
        print(out[-20000:], flush=True)
    tool_errors = re.search(r"Runtime Error: (\d+)", summary)
    note = f" ({tool_errors.group(1)} schemathesis runtime errors)" if tool_errors else ""
    return (1 if bad else 0), line + note


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=15, help="per operation and phase")
    parser.add_argument("--st", default=str(ROOT / ".venv-fuzz" / "bin" / "st"))
    args = parser.parse_args()
    args.st = str(Path(args.st).resolve())  # the passes run from a temporary directory
    port, data = free_port(), tempfile.mkdtemp(prefix="fuzz-")
    log = Path(data) / "server.log"
    env = {**os.environ, "CHAT_HTTP__PORT": str(port), "CHAT_APP__AUTH_KEY": AUTH_KEY,
           "CHAT_DATA_DIR": data, "CHAT_BLOBS__PATH": f"{data}/blobs", "CHAT_XMPP__ENABLED": "false",
           "CHAT_LOG_LEVEL": "WARNING", **NO_LIMITS}
    with open(log, "wb") as sink:
        server = subprocess.Popen([sys.executable, "-m", "chatbridge", "serve"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    failed, counts = [], []
    try:
        asyncio.run(wait_http(url + "/health"))
        token = asyncio.run(user_token(url, "fuzz-main"))
        for name, extra in (
                ("user session, all but session and account endings",
                 ["-H", f"CB-Token: {token}", "--exclude-path-regex", ENDING]),
                ("sessions, logins and the account", [
                    "-H", f"CB-Token: {asyncio.run(user_token(url, 'fuzz-ending'))}",
                    "--include-path-regex", ENDING]),
                ("no credentials", [])):
            code, line = run_pass(args.st, url, name, args.examples, extra)
            counts.append(f"{name}: {line}")
            if code:
                failed.append(name)
    finally:
        server.terminate()
        server.wait()
    tracebacks = log.read_text(errors="replace").count("Traceback")
    print("\n".join(counts))
    print(f"server log: {tracebacks} tracebacks ({log})")
    if failed or tracebacks:
        print("FAILED: " + ", ".join(failed + ([f"{tracebacks} tracebacks"] if tracebacks else [])))
        sys.exit(1)


if __name__ == "__main__":
    main()
