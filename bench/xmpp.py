"""XMPP benchmarks: the bridge next to Prosody alone, measured in the same run.

    .venv/bin/python bench/xmpp.py [--pairs 50] [--messages 100] [--occupants 100]
                                   [--fanout-messages 1000] [--write docs/benchmarks.md]

1. 1:1 messages persisted end to end (client → Prosody → mod_chatbridge_copies → bridge → store),
   counted in the store (exactly once), next to raw routing by a second Prosody without the copies.
2. MUC fan-out to N online occupants through the bridge, next to Prosody's own `muc` module (a
   second MUC host on the raw Prosody).
3. REST `send_to_chat=1` → recipient latency at a fixed rate.
4. Bridge memory per online user (10,000 simulated presences, tracemalloc).
`chatbridge serve` runs as a child process (embedded store); load comes from small raw XMPP
clients in this process.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from xml.etree.ElementTree import Element, XMLPullParser

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (UNLIMITED, KeepAliveClient, cpu_probe, cpu_seconds, free_port,  # noqa: E402
                          machine_times, probe_sentence, server_command, start_process, steal_share,
                          stop_process, wait_http)
from bench.rest import write_section  # noqa: E402

AUTH_KEY = "bench-xmpp-key"
DOMAIN = "localhost"
SECRET = "bench-component-secret"
AUTH_PASSWORD = "bench-auth-password"


# -- a small raw XMPP client -----------------------------------------------------------------------
class RawClient:
    def __init__(self, jid: str, password: str) -> None:
        self.jid = jid
        self.password = password
        self.full_jid = ""
        self.received = 0
        self.on_stanza = None
        self._queue: asyncio.Queue[Element] = asyncio.Queue()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None

    async def connect(self, port: int) -> None:
        reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        self._parser = self._new_parser()
        self._task = asyncio.create_task(self._read(reader))
        self._open()
        await self._expect("features")
        token = base64.b64encode(f"\0{self.jid.split('@')[0]}\0{self.password}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        if (await self._expect("success", "failure")).tag.endswith("failure"):
            raise ConnectionRefusedError(self.jid)
        self._parser = self._new_parser()
        self._open()
        await self._expect("features")
        self.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
        bound = await self._expect("iq")
        self.full_jid = bound.find(".//{urn:ietf:params:xml:ns:xmpp-bind}jid").text
        self.send("<presence/>")

    def _open(self) -> None:
        self.send(f"<?xml version='1.0'?><stream:stream to='{DOMAIN}' xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")

    @staticmethod
    def _new_parser() -> XMLPullParser:
        return XMLPullParser(events=("start", "end"))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        depth = 0
        while True:
            data = await reader.read(65536)
            if not data:
                return
            self._parser.feed(data)
            for event, element in self._parser.read_events():
                if event == "start":
                    depth += 1
                    if element.tag == "{http://etherx.jabber.org/streams}stream":
                        depth = 1
                else:
                    depth -= 1
                    if depth == 1:
                        if self.full_jid and self.on_stanza is not None:
                            self.on_stanza(element)
                        elif not self.full_jid:
                            self._queue.put_nowait(element)

    async def _expect(self, *names: str) -> Element:
        while True:
            element = await asyncio.wait_for(self._queue.get(), 10)
            if element.tag.rsplit("}", 1)[-1] in names:
                return element

    def send(self, data: str) -> None:
        self._writer.write(data.encode())

    async def drain(self) -> None:
        await self._writer.drain()

    async def close(self) -> None:
        if self._writer is not None:
            try:
                self.send("</stream:stream>")
                self._writer.close()
            except Exception:  # noqa: BLE001
                pass
        if self._task is not None:
            self._task.cancel()


# -- set-up ----------------------------------------------------------------------------------------
class Rest:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.s, self.base = session, base

    async def call(self, method: str, path: str, token: str | None = None, **kw):
        headers = {"CB-Token": token} if token else {}
        async with self.s.request(method, self.base + path, headers=headers, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def users(self, n: int, tag: str) -> list[dict]:
        _, body = await self.call("POST", "/session.json", json={"application_id": 1, "auth_key": AUTH_KEY})
        app = body["session"]["token"]
        out = []
        for i in range(n):
            login = f"bench-{tag}-{i}"
            status, body = await self.call("POST", "/users.json", app,
                                           json={"user": {"login": login, "password": "password123"}})
            assert status == 201, body
            _, body = await self.call("POST", "/session.json", json={
                "application_id": 1, "auth_key": AUTH_KEY, "user": {"login": login, "password": "password123"}})
            uid = body["session"]["user_id"]
            out.append({"id": uid, "token": body["session"]["token"], "jid": f"{uid}-1@{DOMAIN}"})
        return out


async def connect_all(users: list[dict], port: int) -> list[RawClient]:
    clients = [RawClient(u["jid"], u["token"]) for u in users]
    for chunk in range(0, len(clients), 50):
        await asyncio.gather(*(c.connect(port) for c in clients[chunk:chunk + 50]))
    return clients


async def wait_until(check, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(interval)
    return await check()


def median_run(runs: list[dict]) -> dict:
    """The run with the median rate (deliveries per second)."""
    ordered = sorted(runs, key=lambda r: r["deliveries"] / r["seconds"])
    return ordered[len(ordered) // 2]


POOL_CONNECTIONS = 32
# what other runs of the day showed (filled in by hand when recording)
ONE_TO_ONE_NOTES = (
    "Other full runs on 2026-12-06 with this code: 8,870 and 10,066 msg/s (machine probe "
    "0.11–0.14 s), and 11,667–13,762 msg/s with the previous Prosody collector settings at probe "
    "0.08 s; on 2026-11-22, on a slower machine (probe 0.14–0.16 s), 4,610–6,036 msg/s, and "
    "2,500–4,100 in its slow spells. Persisted / Prosody alone in the same run: 0.40–0.55. The "
    "goal is met on this machine in every run today; on the slower one it was met in its fast "
    "spells only.")
LATENCY_NOTES = (
    "The phase follows 45,000 1:1 messages and 200,000 room deliveries. Prosody's collector "
    "was the tail: in generational mode (until 2026-12-06) Lua stayed in its \"bad collection\" "
    "state after the 1:1 bursts and collected the whole heap every second, 20–40 ms each "
    "(measured with a 5 ms timer inside Prosody, each late message matched to one), p99 11.4, 16.6, "
    "21.1, 22.5 and 27.1 ms in five full runs; with the template's incremental settings now, "
    "3.7, 6.8, 8.5, 9.5 and 10.5 ms in other full runs (probe 0.11–0.14 s), its atomic step still taking 10–30 ms about every "
    "second under load. `--only latency` (no bursts before it): p99 2.4–2.7 ms.")


def oid() -> str:
    return os.urandom(12).hex()


def raw_config(chatbridge_config: str, tmp: Path, c2s: int, http: int) -> str:
    """Prosody alone (the 1:1 routing baseline): the same configuration without the copies for the
    bridge, the bridge component and our include."""
    text = chatbridge_config
    text = text.replace('"chatbridge_copies";', "").replace('"privilege"; "delegation";', "")
    text = re.sub(r"\n\tchatbridge_copy_host = .*", "", text)
    text = re.sub(r'\n-- CHAT_XMPP__PROSODY_INCLUDE\nInclude "[^"\n]*"\n', "\n", text)
    text = re.sub(r'\nComponent ".*', "", text, flags=re.S)
    text = re.sub(r"c2s_ports = \{ \d+ \}", f"c2s_ports = {{ {c2s} }}", text)
    text = re.sub(r"http_ports = \{ \d+ \}", f"http_ports = {{ {http} }}", text)
    text = re.sub(r"component_ports = \{ \d+ \}", "component_ports = {}", text)
    text = re.sub(r'pidfile = ".*"', f'pidfile = "{tmp}/raw.pid"', text)
    text = re.sub(r'data_path = ".*"', f'data_path = "{tmp}/raw-data"', text)
    text = re.sub(r'filename = ".*"', f'filename = "{tmp}/raw.log"', text)
    return text


# -- runs ------------------------------------------------------------------------------------------
async def one_to_one(rest: Rest, port: int, senders: list[dict], receivers: list[dict],
                     messages: int, persist: bool, server_pid: int | None = None,
                     prosody_pid: int | None = None) -> dict:
    clients_s = await connect_all(senders, port)
    clients_r = await connect_all(receivers, port)
    total = len(senders) * messages
    got = 0
    done = asyncio.Event()

    def count(element: Element) -> None:
        nonlocal got
        if element.tag == "{jabber:client}message" and element.get("type") == "chat":
            got += 1
            if got >= total:
                done.set()

    for c in clients_r:
        c.on_stanza = count
    await asyncio.sleep(0.5)  # presences reach the bridge
    extra = ("<extraParams xmlns='jabber:client'><save_to_history>1</save_to_history></extraParams>"
             if persist else "")
    before = 0
    if persist:
        _, health = await rest.call("GET", "/health")
        before = health.get("xmpp", {}).get("private", {}).get("stored", 0)
    print(f"# 1:1 {'bridge' if persist else 'raw'}: sending", file=sys.stderr, flush=True)  # for profilers
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    prosody_before = cpu_seconds(prosody_pid) if prosody_pid else 0.0
    machine_before = machine_times()
    clients_before = time.process_time()
    start = time.perf_counter()
    for n in range(messages):
        for sender, receiver in zip(clients_s, receivers):
            sender.send(f"<message to='{receiver['jid']}' type='chat' id='{oid()}'><body>m{n}</body>{extra}</message>")
        await asyncio.gather(*(s.drain() for s in clients_s))
    try:
        await asyncio.wait_for(done.wait(), 120)
    except asyncio.TimeoutError:
        pass
    delivered_s = time.perf_counter() - start
    result = {"sent": total, "delivered": got, "deliver_seconds": delivered_s,
              "clients_cpu_us_per_message": (time.process_time() - clients_before) / total * 1e6}
    if persist:
        async def stored() -> int:  # the bridge's own counter: cheap to poll
            _, health = await rest.call("GET", "/health")
            count_all = health.get("xmpp", {}).get("private", {}).get("stored", 0) - before
            return count_all if count_all >= total else 0

        final = await wait_until(stored, 300, 0.02)
        persisted_s = time.perf_counter() - start
        if server_pid:  # chatbridge's own CPU per message (the /health polls included)
            result["server_cpu_us_per_message"] = (cpu_seconds(server_pid) - cpu_before) / total * 1e6
        count_all = 0  # then the store's own answer: every receiver's unread count
        for r in receivers:
            _, body = await rest.call("GET", "/chat/Message/unread.json", r["token"])
            count_all += body["total"]
        result.update(persisted=count_all, persist_seconds=persisted_s, complete=bool(final))
    result["steal"] = steal_share(machine_before, machine_times())
    if prosody_pid:  # up to the end: Prosody also hands the copies to the component
        result["prosody_cpu_us_per_message"] = (cpu_seconds(prosody_pid) - prosody_before) / total * 1e6
    for c in clients_s + clients_r:
        await c.close()
    return result


async def fanout(port: int, users: list[dict], room_for, join: bool, messages: int,
                 pids: tuple[int, ...] = ()) -> dict:
    """Deliveries of `messages` room messages to every user; `pids`: processes whose CPU time
    (chatbridge, Prosody) is counted for the run."""
    clients = await connect_all(users, port)
    sender = clients[0]
    expected = messages * len(clients)
    got = 0
    done = asyncio.Event()

    def count(element: Element) -> None:
        nonlocal got
        if element.tag == "{jabber:client}message" and element.get("type") == "groupchat" \
                and element.find("{jabber:client}body") is not None:
            got += 1
            if got >= expected:
                done.set()

    joined = 0
    join_done = asyncio.Event()

    def on_join(element: Element) -> None:
        nonlocal joined
        if element.tag == "{jabber:client}presence" and element.get("id") == "join":
            joined += 1
            if joined >= len(clients):
                join_done.set()

    for c in clients:
        c.on_stanza = on_join
    if join:
        for c, u in zip(clients, users):
            c.send(f"<presence id='join' to='{room_for(u)}'><x xmlns='http://jabber.org/protocol/muc'>"
                   "<history maxstanzas='0'/></x></presence>")
        await asyncio.wait_for(join_done.wait(), 30)
    await asyncio.sleep(0.5)
    for c in clients:
        c.on_stanza = count
    room = room_for(None)
    cpu_before = [cpu_seconds(pid) for pid in pids]
    clients_before = time.process_time()
    start = time.perf_counter()
    for n in range(messages):
        sender.send(f"<message to='{room}' type='groupchat' id='{oid()}'><body>f{n}</body></message>")
        if n % 20 == 19:
            await sender.drain()
    try:
        await asyncio.wait_for(done.wait(), 120)
    except asyncio.TimeoutError:
        pass
    seconds = time.perf_counter() - start
    cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before)]
    clients_cpu = time.process_time() - clients_before
    for c in clients:
        await c.close()
    return {"deliveries": got, "expected": expected, "seconds": seconds, "cpu_seconds": sum(cpu),
            "cpu_by_process": cpu, "clients_cpu_seconds": clients_cpu}


async def rest_latency(rest: Rest, port: int, alice: dict, bob: dict, rate: int, seconds: float,
                       pids: tuple[int, ...] = ()) -> dict:
    print(f"# latency at {rate}/s", file=sys.stderr, flush=True)  # for profilers
    [client] = await connect_all([bob], port)
    status, dialog = await rest.call("POST", "/chat/Dialog.json", alice["token"],
                                     json={"type": 3, "occupants_ids": [bob["id"]]})
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    timeline: list[tuple[float, float]] = []  # (sent at, latency ms)

    def on_message(element: Element) -> None:
        mid = element.get("id")
        if mid in sent_at:
            began = sent_at.pop(mid)
            latencies.append((time.perf_counter() - began) * 1000)
            timeline.append((began, latencies[-1]))

    client.on_stanza = on_message
    # the load generator's HTTP connections are opened before the clock starts (a long-running
    # client has them: opened on demand they cost seconds of queueing at the start of a run), and
    # it is a minimal client (aiohttp's took ~0.8 ms of CPU per request from the same two cores)
    http = KeepAliveClient("127.0.0.1", int(rest.base.rsplit(":", 1)[1]), POOL_CONNECTIONS)
    await http.open()
    # and its own garbage collector does not stop it mid-run: after the 1:1 bursts its full
    # passes took ~80 ms, every message in flight then counted late (the server freezes likewise)
    gc.collect()
    gc.freeze()
    await asyncio.sleep(0.5)
    total = int(rate * seconds)
    interval = 1.0 / rate
    cpu_before = [cpu_seconds(pid) for pid in pids] + [time.process_time()]
    machine_before = machine_times()
    start = time.perf_counter()
    tasks = []

    answered: list[float] = []

    failed = 0

    async def post(mid: str) -> None:
        nonlocal failed
        body = json.dumps({"_id": mid, "chat_dialog_id": dialog["_id"], "message": "latency",
                           "send_to_chat": 1}).encode()
        request = http.prepare("POST", "/chat/Message.json", body, {"CB-Token": alice["token"]})
        sent_at[mid] = began = time.perf_counter()
        status, _ = await http.send(request)
        answered.append((time.perf_counter() - began) * 1000)
        if status != 201:
            failed += 1

    for n in range(total):
        target = start + n * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post(oid())))
    await asyncio.gather(*tasks)
    await wait_until(lambda: _done(sent_at), 10)
    cpu_us = [round((after - before) / total * 1e6) for before, after in
              zip(cpu_before, [cpu_seconds(pid) for pid in pids] + [time.process_time()])]
    await client.close()
    await http.close()
    gc.unfreeze()
    latencies.sort()
    answered.sort()

    def pick(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(p / 100 * (len(values) - 1)))] if values else float("nan")

    return {"sent": total, "received": len(latencies), "p50": pick(latencies, 50),
            "p99": pick(latencies, 99), "rest_p50": pick(answered, 50), "rest_p99": pick(answered, 99),
            "achieved_rate": total / (time.perf_counter() - start),
            "cpu_us_per_message": cpu_us,  # chatbridge, Prosody, this process
            "failed": failed, "steal": steal_share(machine_before, machine_times()),
            "worst_by_second": _worst_by_second(timeline, start)}


def _worst_by_second(timeline: list[tuple[float, float]], start: float) -> list[float]:
    """The highest latency (ms) among the messages sent in each second of the run: a stall shows
    as one bad second, a slow machine as bad seconds throughout."""
    worst: dict[int, float] = {}
    for began, latency in timeline:
        second = int(began - start)
        worst[second] = max(worst.get(second, 0.0), latency)
    return [round(worst[k], 1) for k in sorted(worst)]


async def _done(pending: dict) -> bool:
    return not pending


def memory_per_user(users: int = 10_000) -> dict:
    """The bridge's per-online-user state: the one online registry (PresenceRegistry, shared with
    push and REST), fed by `users` simulated presences (one resource each, as the SDK connects)."""
    from models.services.presence import PresenceRegistry

    registry = PresenceRegistry()
    resources = [os.urandom(6).hex() for _ in range(users)]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(users):
        registry.connected(1, 1000 + n, resources[n])
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return {"users": users, "bytes": grown, "per_user": grown / users}


# -- driver ----------------------------------------------------------------------------------------
async def run(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-xmpp-"))
    http_port, c2s, xhttp, comp = free_port(), free_port(), free_port(), free_port()
    # Prosody's own MUC as a second host of the bridge's Prosody: the baseline pays the same
    # server costs as the bridge's rooms
    muc_include = tmp / "bench-muc.cfg.lua"
    muc_include.write_text(f'Component "conference.{DOMAIN}" "muc"\n\tmuc_room_locking = false\n')
    env = {"CHAT_HTTP__PORT": str(http_port), "CHAT_APP__AUTH_KEY": AUTH_KEY,
           "CHAT_XMPP__PROSODY_INCLUDE": str(muc_include),
           "CHAT_DATA_DIR": str(tmp / "data"), "CHAT_BLOBS__PATH": str(tmp / "blobs"),
           "CHAT_XMPP__C2S_PORT": str(c2s), "CHAT_XMPP__HTTP_PORT": str(xhttp),
           "CHAT_XMPP__COMPONENT_PORT": str(comp), "CHAT_XMPP__COMPONENT_SECRET": SECRET,
           "CHAT_XMPP__AUTH_PASSWORD": AUTH_PASSWORD,  # push on, as `make run` has it
           "CHAT_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
           **UNLIMITED}
    server = start_process(server_command(["-m", "chatbridge", "serve"]), env)
    raw = None
    results: dict = {}
    try:
        base = f"http://127.0.0.1:{http_port}"
        await wait_http(base + "/health", 60)
        raw_c2s, raw_http = free_port(), free_port()
        config = (tmp / "data" / "prosody" / "prosody.cfg.lua").read_text()
        raw_path = tmp / "raw.cfg.lua"
        raw_path.write_text(raw_config(config, tmp, raw_c2s, raw_http))
        (tmp / "raw-data").mkdir()
        raw = start_process([shutil.which("prosody"), "-F", "--config", str(raw_path)])
        prosody_pid = int((tmp / "data" / "prosody" / "prosody.pid").read_text().strip())
        await asyncio.sleep(1.0)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
            rest = Rest(session, base)
            if args.only in (None, "1to1"):
                runs_raw, runs_1to1 = [], []
                for n in range(args.repeat_1to1):  # interleaved, new pairs each time (new dialogs too)
                    senders = await rest.users(args.pairs, f"s{n}-")
                    receivers = await rest.users(args.pairs, f"r{n}-")
                    runs_raw.append(await one_to_one(rest, raw_c2s, senders, receivers, args.messages, False,
                                                     prosody_pid=raw.pid))
                    runs_1to1.append(await one_to_one(rest, c2s, senders, receivers, args.messages, True,
                                                      server.pid, prosody_pid))
                by_rate = sorted(runs_raw, key=lambda r: r["delivered"] / r["deliver_seconds"])
                results["raw_1to1"] = by_rate[len(by_rate) // 2]
                by_rate = sorted(runs_1to1, key=lambda r: r["persisted"] / r["persist_seconds"])
                results["bridge_1to1"] = by_rate[len(by_rate) // 2]
                results["runs_1to1"] = runs_1to1
            if args.only == "1to1":
                print(results)
                return results
            if args.only == "latency":
                alice, bob = (await rest.users(2, "lat"))
                results["latency"] = await rest_latency(rest, c2s, alice, bob, args.rate, args.seconds,
                                                        (server.pid, prosody_pid))
                print(results)
                return results
            members = await rest.users(args.occupants, "m")
            status, dialog = await rest.call("POST", "/chat/Dialog.json", members[0]["token"], json={
                "type": 2, "name": "bench", "occupants_ids": [m["id"] for m in members[1:]]})
            pids = (server.pid, prosody_pid)
            runs_bridge, runs_prosody = [], []
            for _ in range(args.repeat):  # interleaved: both see the same machine load
                runs_bridge.append(await fanout(
                    c2s, members, lambda u: f"1_{dialog['_id']}@muc.{DOMAIN}" + (f"/{u['id']}" if u else ""),
                    join=False, messages=args.fanout_messages, pids=pids))
                runs_prosody.append(await fanout(
                    c2s, members, lambda u: f"bench@conference.{DOMAIN}" + (f"/{u['id']}" if u else ""),
                    join=True, messages=args.fanout_messages, pids=pids))
            results["bridge_muc"], results["prosody_muc"] = median_run(runs_bridge), median_run(runs_prosody)
            results["muc_ratios"] = [b["deliveries"] / b["seconds"] / (p["deliveries"] / p["seconds"])
                                     for b, p in zip(runs_bridge, runs_prosody)]
            results["muc_cpu_ratios"] = [  # deliveries per CPU-second of chatbridge + Prosody
                (b["deliveries"] / b["cpu_seconds"]) / (p["deliveries"] / p["cpu_seconds"])
                for b, p in zip(runs_bridge, runs_prosody) if b["cpu_seconds"] and p["cpu_seconds"]]
            if args.only == "muc":
                print(results)
                return results
            alice, bob = (await rest.users(2, "lat"))
            results["latency_low"] = await rest_latency(rest, c2s, alice, bob, 50, args.seconds, pids)
            results["latency"] = await rest_latency(rest, c2s, alice, bob, args.rate, args.seconds, pids)
        results["memory"] = memory_per_user()
    finally:
        if raw is not None:
            stop_process(raw)
        stop_process(server)
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def prosody_us(run: dict) -> str:
    """Prosody's CPU time per delivery in a fan-out run (the second process counted)."""
    cpu = run.get("cpu_by_process") or []
    return f"{cpu[1] / run['deliveries'] * 1e6:.0f}" if len(cpu) > 1 and run["deliveries"] else "n/a"


def report(r: dict, args) -> str:
    raw, br = r["raw_1to1"], r["bridge_1to1"]
    raw_rate = raw["delivered"] / raw["deliver_seconds"]
    persisted_rate = br.get("persisted", 0) / br["persist_seconds"] if br.get("persist_seconds") else 0
    bm, pm = r["bridge_muc"], r["prosody_muc"]
    bm_rate, pm_rate = bm["deliveries"] / bm["seconds"], pm["deliveries"] / pm["seconds"]
    lat, low, mem = r["latency"], r["latency_low"], r["memory"]
    run_rates = ", ".join(f"{x['persisted'] / x['persist_seconds']:,.0f}" for x in r["runs_1to1"])
    run_cpu = ", ".join(f"{x.get('server_cpu_us_per_message', 0):.0f}" for x in r["runs_1to1"])
    run_prosody = ", ".join(f"{x.get('prosody_cpu_us_per_message', 0):.0f}" for x in r["runs_1to1"])
    lat_cpu = r["latency"].get("cpu_us_per_message") or [0, 0, 0]
    run_steal = ", ".join(f"{x.get('steal', 0):.0%}" for x in r["runs_1to1"])
    cpu_ratios = r.get("muc_cpu_ratios") or []
    muc_cpu = f"{statistics.median(cpu_ratios):.2f}" if cpu_ratios else "n/a"
    muc_cpu_runs = ", ".join(f"{x:.2f}" for x in cpu_ratios)
    lines = [
        "## XMPP: 1:1 persistence, MUC fan-out, REST → XMPP latency, memory",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({os.cpu_count()} cores), "
        f"Python {platform.python_version()}, `bench/xmpp.py`: `chatbridge serve` (embedded Prosody, "
        "**mongomock-motor in-memory store**, push fan-out on as by default) in a child process, "
        "a second Prosody with the same "
        "configuration minus the 1:1 copies and the bridge (plus its own `muc` module) for the "
        "baselines, raw XMPP clients in the benchmark process. " + probe_sentence(r["probe"]),
        "",
        "| run | sent | delivered | stored | seconds | rate |",
        "|---|---|---|---|---|---|",
        f"| Prosody alone, 1:1 routing | {raw['sent']} | {raw['delivered']} | – | "
        f"{raw['deliver_seconds']:.2f} | {raw_rate:,.0f} msg/s |",
        f"| bridge, 1:1 persisted end to end | {br['sent']} | {br['delivered']} | "
        f"{br.get('persisted', 0)} | {br['persist_seconds']:.2f} | {persisted_rate:,.0f} msg/s stored |",
        f"| Prosody `muc`, {args.occupants} occupants | {args.fanout_messages} | {pm['deliveries']} / "
        f"{pm['expected']} | – | {pm['seconds']:.2f} | {pm_rate:,.0f} deliveries/s |",
        f"| bridge rooms, {args.occupants} occupants | {args.fanout_messages} | {bm['deliveries']} / "
        f"{bm['expected']} | {args.fanout_messages} | {bm['seconds']:.2f} | {bm_rate:,.0f} deliveries/s |",
        "",
        f"- 1:1: {persisted_rate:,.0f} msg/s persisted, {br.get('persisted', 0) - br['sent']:+d} against "
        f"the {br['sent']} sent (0 = exactly once; median of {len(r['runs_1to1'])} interleaved runs, "
        f"each with {args.pairs} new pairs: "
        f"{run_rates} msg/s); "
        f"Prosody alone routed {raw_rate:,.0f} msg/s at {raw.get('prosody_cpu_us_per_message', 0):.0f} µs "
        "of Prosody's CPU per message. CPU time per persisted message: chatbridge "
        f"{run_cpu} µs, its Prosody {run_prosody} µs (routing, the copy, the component link). "
        f"The hypervisor's steal during the runs: {run_steal} "
        "of the machine's CPU time (this machine's slow spells are high steal). "
        "Goal ≥ 5,000 msg/s persisted exactly once. " + ONE_TO_ONE_NOTES,
        f"- MUC fan-out: bridge / Prosody `muc` = **{statistics.median(r['muc_ratios']):.2f}** "
        f"(median of {len(r['muc_ratios'])} interleaved pairs: "
        f"{', '.join(f'{x:.2f}' for x in r['muc_ratios'])}; goal ≥ 1.0). Prosody's `muc` runs as a "
        "second host of the bridge's own Prosody (`CHAT_XMPP__PROSODY_INCLUDE`), so both pay the "
        "same server costs. Bridge rooms also persist "
        "each message before the fan-out. The bridge sends one wrapper per room event (its "
        "recipients as one JID list) that "
        "`mod_chatbridge_fanout` clones per recipient inside Prosody (as its MUC does); both runs "
        "are bound by Prosody's single core: Prosody's CPU per delivery in the median runs, "
        f"bridge rooms {prosody_us(bm)} µs, `muc` {prosody_us(pm)} µs. The wall-clock ratio follows this shared machine's load "
        "from run to run, and so does the work per delivery, less: deliveries per CPU-second of "
        f"chatbridge and Prosody together, bridge / `muc` = **{muc_cpu}** (median; runs: "
        f"{muc_cpu_runs}); the bridge's rooms also store every message, which Prosody's `muc` does not. "
        "(Until 2026-11-22 the baseline was a separate Prosody without the firewall, a quarter less "
        "work per delivery; medians were 0.88–1.15 then.)",
        f"- REST `send_to_chat=1` → recipient at {args.rate} msg/s for {args.seconds:.0f} s "
        f"(achieved {lat['achieved_rate']:,.0f}/s, {lat['received']}/{lat['sent']} received): "
        f"p50 **{lat['p50']:.1f} ms**, p99 **{lat['p99']:.1f} ms** (goal p50 ≤ 3 ms, p99 ≤ 15 ms); "
        f"the REST answer alone: p50 {lat['rest_p50']:.1f} ms, p99 {lat['rest_p99']:.1f} ms. "
        f"CPU per message: chatbridge {lat_cpu[0]} µs, Prosody {lat_cpu[1]} µs, the load generator "
        f"{lat_cpu[2]} µs (all on the same two cores); hypervisor steal during the phase "
        f"{lat.get('steal', 0):.0%}; the worst latency among the messages of each second: "
        f"{', '.join(f'{x:.0f}' for x in lat.get('worst_by_second', []))} ms. "
        f"At 50 msg/s ({low['received']}/{low['sent']} received): p50 {low['p50']:.1f} ms, "
        f"p99 {low['p99']:.1f} ms. Times are taken in the benchmark process (a Python client on the "
        "same two cores) and include the REST call (session check, store writes, outbox), the relay "
        "and Prosody. The load generator is a minimal keep-alive HTTP client whose connections are "
        "opened, and whose own garbage is frozen, before the clock starts (aiohttp's client cost "
        "~0.8 ms of CPU per request; its full collections after the 1:1 bursts took ~80 ms). "
        "Earlier p99 tails came from Nagle's algorithm on Prosody's sockets (now "
        "`network_settings = { nagle = false }`) and from one ping per relayed batch (now shared). "
        f"What is left: {args.rate} sends/s keep chatbridge {lat_cpu[0] * args.rate / 1e6:.0%} busy on "
        "one core while Prosody and the load generator share the rest, so the tail follows the "
        "machine: hypervisor steal, three busy processes on two cores, and Prosody's collector. "
        + LATENCY_NOTES,
        "- What moved these numbers: Prosody hands the bridge its 1:1 copies from our own module "
        "(one serialisation of the original; the mod_firewall rule it replaced built, cloned and "
        "serialised a stanza tree per copy: Prosody's CPU per message 221–294 → 144–213 µs in the "
        "same spells) and writes them to the component link every 32 copies (in a burst Prosody "
        "otherwise read everything from its clients before writing anything, and the bridge sat idle "
        "for the first 1.5–2 s); concurrent sends are group-committed (one id lookup, one "
        "insert, one sequence update per dialog, one outbox write per batch); the bridge handles "
        "1:1 copies as raw elements (no slixmpp stanza objects or matchers) and stores them in "
        "batches in arrival order, finding each new pair's dialog once per batch; when it falls "
        "behind it stops reading (Prosody keeps the copies) instead of dropping any; with the "
        "embedded store the outbox lives in memory (nothing the embedded store holds survives the "
        "process) and inserts are checked by BSON's C encoder and copied in one walk; outbox "
        "consumers read a tap and mark batches "
        "done in one write; the relay pipelines Prosody's confirmations; the embedded store applies "
        "simple updates in place and answers `_id` lookups, simple filters and sorts without "
        "mongomock's generic walks (each checked against mongomock in tests/storage/test_embedded.py); "
        "the serve process freezes long-lived objects out of the garbage collector's full passes; "
        "room fan-out wrappers list their recipients as one JID per line (a parsed `<to/>` element "
        "each cost Prosody about a tenth of a delivery: its CPU per room delivery 37 → 32–34 µs, "
        "the ratio 0.95–0.99 → 1.04–1.15); Prosody's collector runs incrementally at Lua's own pace.",
        "- Where the time goes now (py-spy on chatbridge during the 1:1 bursts, 2026-12-06): the "
        "bridge and Prosody work at the same time, each on one of the two cores (the benchmark's "
        "clients take a share of both); 1:1 persistence is bound by the bridge process. Of its busy "
        "time: reading the copies 20 % (expat and slixmpp's loop 10 %, the copy's checks 9 %), "
        "building the drafts 13 %, the send 42 % (the mongomock insert 21 %, the message_created "
        "event 7 %, the outbox write 7 %), the outbox consumers (relay, push fan-out) 10 %, the "
        "benchmark's /health polls 7 %. A real MongoDB was not available on this machine.",
        f"- Memory per online user ({mem['users']:,} simulated presences; the one online registry, "
        f"tracemalloc): **{mem['per_user']:.0f} bytes** (goal ≤ 1 KiB).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--messages", type=int, default=300, help="per pair, in each 1:1 run")
    parser.add_argument("--occupants", type=int, default=100)
    parser.add_argument("--fanout-messages", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved MUC runs (median shown)")
    parser.add_argument("--repeat-1to1", type=int, default=3, help="interleaved 1:1 runs (median shown)")
    parser.add_argument("--write", type=Path, default=None)
    parser.add_argument("--only", choices=("1to1", "muc", "latency"), default=None,
                        help="run one part and print raw results (for profiling; nothing is written)")
    args = parser.parse_args()
    probe = cpu_probe()
    results = asyncio.run(run(args))
    results["probe"] = probe
    if args.only:
        return
    section = report(results, args)
    print(section)
    if args.write:
        write_section(args.write, section)


if __name__ == "__main__":
    main()
