"""Message Archive Management benchmark: a page of 50 from a 100,000-message archive.

    .venv/bin/python bench/mam.py [--messages 100000] [--queries 200] [--write docs/benchmarks.md]

A child process (`--serve`) runs chatbridge's parts (services on the embedded store, the bridge,
a real Prosody, the collector policy of `serve`), built by the production wiring functions, and
seeds the archive through the services directly (`MessageService.send_batch`, as the bridge
stores 1:1 copies). The queries go over XMPP from a real slixmpp client in this process, with its
`xep_0313` / `xep_0059` plugins, one at a time:

1. "with one contact": `with` = the contact holding half the archive, RSM `max=50`, `after` a
   random stored id of that dialog (pages that are full);
2. "everything after a stanza-id" (how phones catch up): no `with`, `after` a random stored id
   of the whole archive, across all of the user's dialogs.
Latency is the client's round trip: the IQ out, 50 results and the `<fin>` back, parsed. The
child then runs the same queries against `ArchiveService.query` in-process (store and service
alone), reported next to them.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr  # noqa: E402
from slixmpp import ClientXMPP  # noqa: E402

from bench.common import (ROOT, cpu_probe, cpu_seconds, free_port, machine_times,  # noqa: E402
                          probe_sentence, server_command, steal_share)
from bench.rest import write_section  # noqa: E402
from config.settings import Settings  # noqa: E402
from models.messages import make_draft  # noqa: E402
from models.requester import Requester  # noqa: E402
from models.services.container import build_services  # noqa: E402
from models.storage.mongo import memory_database  # noqa: E402

APP_ID = 1
DOMAIN = "localhost"
PAGE = 50


def settings_for(tmp: Path) -> Settings:
    return Settings(
        _env_file=None, app={"id": APP_ID, "auth_key": SecretStr("bench-mam-key"),
                             "auth_secret": SecretStr("s")},
        http={"host": "127.0.0.1", "port": free_port()}, blobs={"path": tmp / "blobs"},
        data_dir=tmp, push={"enabled": False},
        xmpp={"domain": DOMAIN, "host": "127.0.0.1", "c2s_port": free_port(),
              "http_port": free_port(), "component_port": free_port(),
              "auth_password": SecretStr("bench-auth"), "component_secret": SecretStr("bench-secret")})


class Parts:
    """The REST, bridge and collector parts in their own thread and loop (as `chatbridge serve`
    runs them)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.stack = contextlib.AsyncExitStack()

    def run(self, coro, timeout: float = 600):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        from chatbridge import wiring
        from rest.app import create_app

        self.services = build_services(self.settings, memory_database())
        await self.services.start()
        app = create_app(self.services)
        await self.stack.enter_async_context(wiring.bridge_part(self.services, app))
        await self.stack.enter_async_context(wiring.http_part(self.services, app))
        # the collector policy `serve` runs: without it full passes walk the whole store
        await self.stack.enter_async_context(wiring.gc_part(self.services, app))

    def start(self) -> None:
        self.thread.start()
        self.run(self._start(), 60)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.run(self.stack.aclose(), 45)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def seed(services, total: int, contacts: int) -> tuple[int, str, list[int], dict]:
    """The user, their password, the contacts and the stored ids (per dialog and in order)."""
    me = await services.users.signup(APP_ID, _user_draft("mam-bench-user"))
    others = [(await services.users.create_guest(APP_ID, f"contact{i}")).id for i in range(contacts)]
    mine = Requester(app_id=APP_ID, user_id=me.id)
    dialogs = {}
    for other in others:
        dialog = await services.dialogs.find_or_create_private(mine, other)
        dialogs[other] = dialog["_id"]
    ids: dict = {"all": [], "big": []}
    big = total // 2  # the first contact holds half of the archive
    plan = [others[0]] * big + [others[1 + i % (contacts - 1)] for i in range(total - big)]
    random.Random(7).shuffle(plan)
    base = int(time.time()) - total
    for start in range(0, total, 2000):
        items = []
        for offset, other in enumerate(plan[start:start + 2000]):
            n = start + offset
            sender = mine if n % 2 else Requester(app_id=APP_ID, user_id=other)
            items.append((sender, make_draft(dialog_id=dialogs[other],
                                             body=f"message {n} of the archive",
                                             date_sent=base + n, custom={"n": str(n)})))
        for (_, _), doc, other in zip(items, await services.messages.send_batch(items),
                                      plan[start:start + 2000]):
            ids["all"].append(doc["_id"])
            if other == others[0]:
                ids["big"].append(doc["_id"])
    return me.id, "bench-password-1", others, ids


def _user_draft(login: str):
    from models.users import UserDraft
    return UserDraft(login=login, password="bench-password-1")


async def measure(client, label: str, anchors: list[str], with_jid: str | None) -> dict:
    mam = client.plugin["xep_0313"]
    times = []
    for anchor in anchors:
        began = time.perf_counter()
        iq = await mam.retrieve(with_jid=with_jid, rsm={"max": PAGE, "after": anchor}, timeout=30)
        times.append((time.perf_counter() - began) * 1000)
        got = len(iq["mam"]["results"])
        if got != PAGE:
            raise AssertionError(f"{label}: {got} results after {anchor}")
    times.sort()
    return {"label": label, "n": len(times), "p50": statistics.median(times),
            "p95": times[int(len(times) * 0.95) - 1], "max": times[-1]}


async def measure_raw(client, label: str, anchors: list[str], with_jid: str | None) -> dict:
    """The same queries from a raw client (bench/xmpp.py's `RawClient`, which only splits the
    stream into elements): the server's part of the round trip, without slixmpp's parsing."""
    times = []
    for n, anchor in enumerate(anchors):
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        got = [0]
        query_id = f"raw{n}"

        def on_stanza(element, query_id=query_id, got=got, done=done):
            if element.tag == "{jabber:client}message":
                result = element.find("{urn:xmpp:mam:2}result")
                if result is not None and result.get("queryid") == query_id:
                    got[0] += 1
            elif element.tag == "{jabber:client}iq" and element.get("id") == query_id \
                    and not done.done():
                done.set_result(element.get("type"))
        client.on_stanza = on_stanza
        form = (f'<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden">'
                f'<value>urn:xmpp:mam:2</value></field><field var="with"><value>{with_jid}'
                "</value></field></x>") if with_jid else ""
        began = time.perf_counter()
        client.send(f'<iq type="set" id="{query_id}"><query xmlns="urn:xmpp:mam:2" '
                    f'queryid="{query_id}">{form}<set xmlns="http://jabber.org/protocol/rsm">'
                    f"<max>{PAGE}</max><after>{anchor}</after></set></query></iq>")
        kind = await asyncio.wait_for(done, 30)
        times.append((time.perf_counter() - began) * 1000)
        if kind != "result" or got[0] != PAGE:
            raise AssertionError(f"{label}: {kind}, {got[0]} results after {anchor}")
    times.sort()
    return {"p50": statistics.median(times), "p95": times[int(len(times) * 0.95) - 1]}


async def in_process(services, user_id: int, anchors: list[str], with_user: int | None) -> dict:
    """The same queries straight to `ArchiveService.query` (store and service only)."""
    from models.archive import ArchiveQuery

    me = Requester(app_id=APP_ID, user_id=user_id)
    times = []
    for anchor in anchors:
        began = time.perf_counter()
        page = await services.archive.query(me, ArchiveQuery(with_user=with_user, after_id=anchor,
                                                             limit=PAGE))
        times.append((time.perf_counter() - began) * 1000)
        assert len(page.items) == PAGE
    times.sort()
    return {"p50": statistics.median(times), "p95": times[int(len(times) * 0.95) - 1]}


async def client_for(c2s: list, jid: str, password: str) -> ClientXMPP:
    client = ClientXMPP(jid, password, plugin_config={"feature_mechanisms": {"unencrypted_plain": True}})
    client.enable_starttls = client.enable_direct_tls = False
    client.enable_plaintext = True
    for plugin in ("xep_0030", "xep_0059", "xep_0297", "xep_0313"):
        client.register_plugin(plugin)
    client.connect(c2s[0], c2s[1])
    await client.wait_until("session_start", 15)
    return client


def serve(args: argparse.Namespace) -> None:
    """The child: chatbridge's parts, the seeded archive, then one JSON line of what the client
    needs on stdout; runs until stdin closes, then answers the in-process timings."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-mam-"))
    parts = Parts(settings_for(tmp))
    parts.start()
    try:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        began = time.perf_counter()
        user_id, password, others, ids = parts.run(seed(parts.services, args.messages, args.contacts))
        seeded = time.perf_counter() - began
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rng = random.Random(11)
        anchors = {"big": [rng.choice(ids["big"][:-PAGE]) for _ in range(args.queries)],
                   "all": [rng.choice(ids["all"][:-PAGE]) for _ in range(args.queries)]}
        print(json.dumps({"c2s": [parts.settings.xmpp.host, parts.settings.xmpp.c2s_port],
                          "jid": f"{user_id}-{APP_ID}@{DOMAIN}", "password": password,
                          "contact": f"{others[0]}-{APP_ID}@{DOMAIN}", "anchors": anchors,
                          "big": len(ids["big"]), "seeded": seeded,
                          "rss_mb": (rss_after - rss_before) / 1024, "server_pid": os.getpid(),
                          "prosody_pid": int((tmp / "prosody" / "prosody.pid").read_text())}),
              flush=True)
        sys.stdin.readline()  # the client's queries run now
        service = {"big": parts.run(in_process(parts.services, user_id, anchors["big"], others[0])),
                   "all": parts.run(in_process(parts.services, user_id, anchors["all"], None))}
        print(json.dumps(service), flush=True)
    finally:
        parts.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=51)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--write", type=Path)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    if shutil.which("prosody") is None:
        sys.exit("Prosody is not installed: run `make system-deps`")
    probe = cpu_probe()
    child = subprocess.Popen(
        server_command([str(Path(__file__).resolve()), "--serve", "--messages", str(args.messages),
                        "--contacts", str(args.contacts), "--queries", str(args.queries)]),
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(child.stdout.readline())

        async def run_queries():
            from bench.xmpp import RawClient

            client = await client_for(ready["c2s"], ready["jid"], ready["password"])
            raw = RawClient(ready["jid"], ready["password"])
            await raw.connect(ready["c2s"][1])
            try:
                await measure(client, "warm-up", ready["anchors"]["all"][:10], None)
                out = [await measure(client, f"with one contact ({ready['big']:,} messages)",
                                     ready["anchors"]["big"], ready["contact"]),
                       await measure(client, "everything after a stanza-id (all dialogs)",
                                     ready["anchors"]["all"], None)]
                pids = (ready["server_pid"], ready["prosody_pid"])
                for result, anchors, with_jid in ((out[0], ready["anchors"]["big"], ready["contact"]),
                                                  (out[1], ready["anchors"]["all"], None)):
                    before = [cpu_seconds(pid) for pid in pids]
                    result["raw"] = await measure_raw(raw, result["label"], anchors, with_jid)
                    result["cpu_ms"] = [(cpu_seconds(pid) - b) * 1000 / len(anchors)
                                        for pid, b in zip(pids, before)]
                return out
            finally:
                client.disconnect()
                await raw.close()
        ticks = machine_times()
        results = asyncio.run(run_queries())
        steal = steal_share(ticks, machine_times())
        child.stdin.write("done\n")
        child.stdin.flush()
        service = json.loads(child.stdout.readline())
        results[0]["service"], results[1]["service"] = service["big"], service["all"]
    finally:
        if child.poll() is None:
            child.stdin.close()
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                child.kill()
    section = report(results, args.messages, args.contacts, ready, probe, steal)
    print(section)
    if args.write:
        write_section(args.write, section)


def report(results: list[dict], total: int, contacts: int, ready: dict, probe: float,
           steal: float) -> str:
    lines = ["## MAM (XEP-0313): a page of 50 from a 100,000-message archive", "",
             f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({os.cpu_count()} cores), "
             f"Python {platform.python_version()}, `bench/mam.py`: chatbridge's parts (embedded "
             "Prosody, **mongomock-motor in-memory store**, the collector policy of `serve`) in a "
             f"child process holding one user's archive of {total:,} messages in {contacts} "
             f"private dialogs (one with {ready['big']:,} of them), seeded through "
             f"`MessageService.send_batch` in {ready['seeded']:.1f} s; the store grew that process "
             f"by about {ready['rss_mb']:.0f} MB (peak RSS; about "
             f"{ready['rss_mb'] * 1024 * 1024 / total:,.0f} bytes per message, indexes included). "
             "Each query asks `max=50` `after` a random stored id (a full page), one at a time over "
             "c2s: from a slixmpp client (`xep_0313`, `xep_0059`: the round trip includes its "
             "parsing of the 50 results), from a raw client that only splits the stream (the "
             "server's part: bridge, store and Prosody), and, in the child, straight to "
             "`ArchiveService.query` (store and service alone). " + probe_sentence(probe)
             + f" Hypervisor steal during the XMPP queries: {steal:.0%}.", "",
             "| query | n | slixmpp client p50 / p95 / max ms | raw client p50 / p95 ms | "
             "service only p50 / p95 ms | CPU per query, chatbridge / Prosody ms |",
             "|---|---|---|---|---|---|"]
    for r in results:
        raw, service = r.get("raw") or {}, r.get("service") or {}
        lines.append(f"| {r['label']} | {r['n']} | {r['p50']:.1f} / {r['p95']:.1f} / "
                     f"{r['max']:.1f} | {raw.get('p50', 0):.1f} / {raw.get('p95', 0):.1f} | "
                     f"{service.get('p50', 0):.1f} / {service.get('p95', 0):.1f} | "
                     f"{r['cpu_ms'][0]:.1f} / {r['cpu_ms'][1]:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
