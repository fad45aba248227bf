"""REST benchmark: message create and history list through `chatbridge serve`, next to a bare
aiohttp JSON handler (the baseline) measured in the same run with the same load generator.

    .venv/bin/python bench/rest.py [--clients 50] [--requests 5000] [--write docs/benchmarks.md]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (UNLIMITED, Result, closed_loop, cpu_probe, free_port, probe_sentence,  # noqa: E402
                          python, server_command, start_process, stop_process, wait_http)

AUTH_KEY = "bench-auth-key"


async def setup_users(base: str, clients: int) -> list[dict]:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async with s.post(f"{base}/session.json", json={"application_id": 1, "auth_key": AUTH_KEY}) as r:
            app_token = (await r.json())["session"]["token"]
        users = []
        for i in range(clients * 2):
            login = f"bench{i}"
            async with s.post(f"{base}/users.json", headers={"CB-Token": app_token},
                              json={"user": {"login": login, "password": "password123"}}) as r:
                assert r.status == 201, await r.text()
            async with s.post(f"{base}/session.json", json={
                    "application_id": 1, "auth_key": AUTH_KEY,
                    "user": {"login": login, "password": "password123"}}) as r:
                session = (await r.json())["session"]
            users.append({"id": session["user_id"], "token": session["token"]})
        pairs = []
        for i in range(clients):
            a, b = users[2 * i], users[2 * i + 1]
            async with s.post(f"{base}/chat/Dialog.json", headers={"CB-Token": a["token"]},
                              json={"type": 3, "occupants_ids": str(b["id"])}) as r:
                assert r.status in (200, 201), await r.text()
                dialog = await r.json()
            pairs.append({"token": a["token"], "dialog_id": dialog["_id"], "peer": b["id"]})
        return pairs


async def run(clients: int, total: int) -> tuple[list[tuple[Result, Result]], dict]:
    base_port, app_port = free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="bench-")
    baseline = start_process([python(), "bench/baseline_server.py", str(base_port)])
    env = {"CHAT_HTTP__PORT": str(app_port), "CHAT_APP__AUTH_KEY": AUTH_KEY,
           "CHAT_DATA_DIR": tmp, "CHAT_BLOBS__PATH": f"{tmp}/blobs", "CHAT_LOG_LEVEL": "WARNING"}
    env.update(BENCH_ENV)
    server = start_process(server_command(["-m", "chatbridge", "serve"]), env)
    base_url, app_url = f"http://127.0.0.1:{base_port}", f"http://127.0.0.1:{app_port}"
    try:
        await wait_http(base_url + "/health")
        await wait_http(app_url + "/health")
        pairs = await setup_users(app_url, clients)
        body = {"message": "hello from the benchmark, a short chat line", "send_to_chat": 1}

        async def create_on(url: str, session, i: int) -> bool:
            pair = pairs[i % clients]
            async with session.post(f"{url}/chat/Message.json", headers={"CB-Token": pair["token"]},
                                    json={**body, "chat_dialog_id": pair["dialog_id"]}) as r:
                await r.read()
                return r.status in (200, 201)

        async def list_on(url: str, session, i: int) -> bool:
            pair = pairs[i % clients]
            async with session.get(f"{url}/chat/Message.json", headers={"CB-Token": pair["token"]},
                                   params={"chat_dialog_id": pair["dialog_id"], "limit": "20",
                                           "mark_as_read": "0", "sort_desc": "date_sent"}) as r:
                await r.read()
                return r.status == 200

        # warm-up both servers
        await closed_loop("warm", clients, clients * 4, lambda s, i: create_on(base_url, s, i))
        await closed_loop("warm", clients, clients * 4, lambda s, i: create_on(app_url, s, i))
        results = []
        b = await closed_loop("baseline POST (bare aiohttp)", clients, total, lambda s, i: create_on(base_url, s, i))
        a = await closed_loop("POST /chat/Message", clients, total, lambda s, i: create_on(app_url, s, i))
        results.append((a, b))
        stored = total + clients * 4
        b = await closed_loop("baseline GET (bare aiohttp)", clients, total, lambda s, i: list_on(base_url, s, i))
        a = await closed_loop("GET /chat/Message (20 newest)", clients, total, lambda s, i: list_on(app_url, s, i))
        results.append((a, b))
        return results, {"stored_messages": stored, "dialogs": clients}
    finally:
        stop_process(server)
        stop_process(baseline)
        if server.stderr:
            err = server.stderr.read().decode(errors="replace")
            if "Traceback" in err:
                print(err[-3000:], file=sys.stderr)


BENCH_ENV: dict[str, str] = {"CHAT_XMPP__ENABLED": "false", **UNLIMITED}


def report(results: list[tuple[Result, Result]], meta: dict, clients: int) -> str:
    lines = [
        "## REST: message create and history list",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({os.cpu_count()} cores), "
        f"Python {platform.python_version()}, `bench/rest.py`: {clients} concurrent clients in a closed "
        "loop (aiohttp client in one process, each server in its own process). Store: "
        "**mongomock-motor (embedded, in memory)**; mongomock has no real indexes, so reads scan the "
        f"collection: {meta['stored_messages']:,} messages in {meta['dialogs']} dialogs by the end of the "
        "create run. Baseline: a bare aiohttp JSON handler (`bench/baseline_server.py`), same requests. "
        + probe_sentence(meta["probe"]),
        "",
        "| run | requests | errors | req/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    ratios = []
    for app_result, base_result in results:
        lines.append(base_result.row())
        lines.append(app_result.row())
        ratios.append((app_result.name, app_result.rate / base_result.rate if base_result.rate else 0.0))
    lines.append("")
    for name, ratio in ratios:
        lines.append(f"- {name}: **{ratio:.2f} ×** the baseline's throughput.")
    met = ratios and ratios[0][1] >= 0.5
    lines.append(f"- Goal: message create ≥ 0.5 × the baseline: **{'met' if met else 'NOT met'}**.")
    lines.append(
        "- Where the time goes (cProfile of the server under this load, `BENCH_SERVER_PROFILE="
        "file`): concurrent creates are group-committed (`models/services/batcher.py`: one id "
        "lookup, one insert, one sequence update per dialog and one outbox write per batch; the "
        "dialog and membership reads stay per request), and the in-process push fan-out reads "
        "the events from a tap. A history page is one dialog's messages filtered, sorted and "
        "copied in Python: mongomock has no indexes, so every request walks the dialog's ~100 "
        "messages (the embedded store's compiled filters and native sorts do it without mongomock's "
        "generic comparisons), then serialises 20 of them. The embedded store's fast paths "
        "(`models/storage/embedded/`, each checked against plain mongomock in "
        "tests/storage/test_embedded.py) and group commit took create from 42 (plain mongomock) to "
        "~450 (2026-11-21) to 1,200–2,000 req/s today (by the machine's speed), history from 46 to "
        "~270 to 650–800 req/s; no MongoDB "
        "server can be installed here, so the real-store ratio is unmeasured.")
    lines.append("")
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replaces this benchmark's section in the results file, keeping the others."""
    title = section.splitlines()[0]
    text = path.read_text() if path.exists() else "# Benchmarks\n\nEach section is written by its script under `bench/`.\n\n"
    if title in text:
        start = text.index(title)
        nxt = text.find("\n## ", start + len(title))
        rest = text[nxt + 1:] if nxt != -1 else ""
        text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + rest if rest else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    probe = cpu_probe()
    results, meta = asyncio.run(run(args.clients, args.requests))
    meta["probe"] = probe
    section = report(results, meta, args.clients)
    print(section)
    if args.write:
        write_section(args.write, section)


if __name__ == "__main__":
    main()
