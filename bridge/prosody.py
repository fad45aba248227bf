"""The embedded XMPP server: Prosody as a supervised child process.

`render_config` writes Prosody's configuration and our Lua modules (auth, 1:1 copies, spool,
fan-out) into `{data_dir}/prosody` (pid file, loopback ports from settings), with the c2s
certificate from `bridge/certificates.py`.
`ProsodyProcess` starts `prosody -F --config ...`, waits until its ports accept connections, relays
its warnings to our log, restarts it with a log line (and backoff) when it dies, and stops it by PID.

What Prosody stores (offline messages, privacy lists, rosters) belongs to the chatbridge store it
serves: it lives in `{data_dir}/prosody/data/{store_id}`. The embedded store is new in every
process, so its Prosody state is too (an earlier run's is deleted at start: user ids start again at
1 and would inherit it); a MongoDB database keeps one id, so its Prosody state follows it and a
different database never sees another's. One process at a time runs the Prosody of a data
directory: `{data_dir}/prosody/lock` is held while it runs, and a second one refuses to start.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from bridge.certificates import tls_files
from config.settings import ExternalService, RateLimitSettings, Settings

logger = logging.getLogger(__name__)

LUA_MODULES = ("mod_auth_chatbridge.lua", "mod_chatbridge_copies.lua", "mod_chatbridge_spool.lua",
               "mod_chatbridge_fanout.lua", "mod_chatbridge_bookmarks.lua",
               "mod_chatbridge_sessions.lua",
               "mod_chatbridge_roster.lua",
               "mod_chatbridge_blocklist.lua")
STOP_TIMEOUT = 10.0


EMBEDDED_PREFIX = "embedded-"


@dataclass(frozen=True)
class ProsodyFiles:
    root: Path
    config: Path
    pidfile: Path
    log_file: Path
    data: Path  # Prosody's own storage, one folder per chatbridge store
    lock: Path

    @classmethod
    def under(cls, data_dir: Path, store_id: str | None = None) -> "ProsodyFiles":
        """`store_id`: the chatbridge store's id (`Services.store_id`); none: a fresh embedded one."""
        store_id = store_id or f"{EMBEDDED_PREFIX}{uuid.uuid4().hex}"
        if not store_id.replace("-", "").isalnum():
            raise ValueError(f"not a store id: {store_id!r}")
        root = (data_dir / "prosody").resolve()
        return cls(root, root / "prosody.cfg.lua", root / "prosody.pid", root / "prosody.log",
                   root / "data" / store_id, root / "lock")

    def forget_other_embedded_stores(self) -> None:
        """Deletes Prosody state of earlier embedded stores (and of the flat layout before store
        ids): the users it belonged to are gone, and new users with their ids must not get it."""
        parent = self.data.parent
        if not parent.is_dir():
            return
        for entry in parent.iterdir():
            if entry == self.data or entry.name.startswith("store-"):
                continue
            logger.info("deleting Prosody state of an earlier embedded store: %s", entry)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


class DataDirLock:
    """An exclusive lock on `{data_dir}/prosody/lock` for as long as one process runs its Prosody
    (flock: released by the kernel when the process dies, however it dies)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            data_dir = self._path.parent.parent
            raise ProsodyError(
                f"the data directory {data_dir} is in use by another chatbridge process "
                f"(pid {holder}) and its embedded Prosody; stop that one, or give this one its "
                "own CHAT_DATA_DIR and ports") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _lua(value: object) -> str:
    """Content of a double-quoted Lua string."""
    text = str(value)
    if any(ch in text for ch in "\n\r\0"):
        raise ValueError("line breaks are not allowed in Prosody settings")
    return text.replace("\\", "\\\\").replace('"', '\\"')


def loopback(host: str) -> str:
    """Where to reach a listener bound on `host` from this machine."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host


def auth_url(settings: Settings) -> str:
    """Where the auth module checks passwords: settings.xmpp.auth_url or this process's REST API."""
    if settings.xmpp.auth_url:
        return settings.xmpp.auth_url.rstrip("/")
    host = loopback(settings.http.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.http.port}/xmpp-auth"


def _lua_table(value: object) -> str:
    """A Lua literal of strings, numbers, booleans, lists and string-keyed tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return f'"{_lua(value)}"'
    if isinstance(value, (list, tuple)):
        return "{ " + "; ".join(_lua_table(v) for v in value) + " }"
    if isinstance(value, dict):
        return "{ " + "; ".join(f'["{_lua(k)}"] = {_lua_table(v)}' for k, v in value.items()) + " }"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def _external_service(service: ExternalService) -> dict:
    out: dict = {"type": service.type, "host": service.host, "port": service.port}
    if service.transport:
        out["transport"] = service.transport
    if service.username:
        out["username"] = service.username
    if service.password is not None:
        out["password"] = service.password.get_secret_value()
    if service.secret is not None:
        out["secret"] = service.secret.get_secret_value()
    return out


def _proxy65_component(settings: Settings) -> str:
    xmpp = settings.xmpp
    if not xmpp.proxy65_port:
        return ""
    wildcard = xmpp.proxy65_interface in ("", "0.0.0.0", "::", "[::]")
    address = xmpp.proxy65_address or (xmpp.domain if wildcard else xmpp.proxy65_interface)
    return (f'\n-- XEP-0065 SOCKS5 bytestreams proxy (listens on proxy65_ports above)\n'
            f'Component "{_lua(xmpp.proxy65_domain)}" "proxy65"\n'
            f'\tproxy65_address = "{_lua(address)}"\n')


def _package_file(*parts: str) -> str:
    return resources.files("config").joinpath(*parts).read_text(encoding="utf-8")


def c2s_limits(limits: RateLimitSettings) -> dict[str, str]:
    """The template's values for the c2s bandwidth limit (Prosody's mod_limits)."""
    rate = limits.xmpp_c2s_rate  # checked by the settings
    return {"limits_module": '"limits";' if rate else "",
            "c2s_rate": f'"{rate or "0b/s"}"',
            "c2s_burst": f'"{max(1, int(limits.xmpp_c2s_burst_seconds))}s"'}


def render_config(settings: Settings, files: ProsodyFiles | None = None) -> ProsodyFiles:
    """Writes the config and the Lua modules; returns their paths."""
    xmpp = settings.xmpp
    files = files or ProsodyFiles.under(settings.data_dir)
    plugins = files.root / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    files.data.mkdir(parents=True, exist_ok=True, mode=0o700)
    (files.root / "certs").mkdir(exist_ok=True)
    for name in LUA_MODULES:
        (plugins / name).write_text(_package_file(name), encoding="utf-8")
    values = {
        "pidfile": files.pidfile, "certs": files.root / "certs", "data_path": files.data,
        "plugin_path": plugins,
        "run_as_root": "true" if os.geteuid() == 0 else "false",
        "log_level": xmpp.prosody_log_level, "log_file": files.log_file,
        "host": xmpp.host or "127.0.0.1", "component_host": loopback(xmpp.host),
        "c2s_port": int(xmpp.c2s_port),
        "http_port": int(xmpp.http_port), "component_port": int(xmpp.component_port),
        "auth_url": auth_url(settings), "auth_user": xmpp.auth_user,
        "auth_password": xmpp.auth_password.get_secret_value(),
        "hibernation_seconds": int(xmpp.smacks_hibernation_seconds),
        "stanza_size_limit": max(64 * 1024, 2 * settings.limits.max_message_bytes + 16 * 1024),
        "domain": xmpp.domain, "muc_domain": xmpp.muc_domain,
        "component_secret": xmpp.component_secret.get_secret_value(),
        "spool_max": 5 * int(xmpp.max_pending_stanzas),
        "store_plain": "true" if xmpp.store_plain_messages else "false",
        "proxy65_interface": xmpp.proxy65_interface,
    }
    tls = tls_files(settings)
    values.update({"tls_certificate": tls.certificate, "tls_key": tls.key})
    lua = {  # Lua code, not string contents
        "direct_tls_ports": str(int(xmpp.c2s_direct_tls_port)) if xmpp.c2s_direct_tls_port else "",
        "proxy65_ports": str(int(xmpp.proxy65_port)) if xmpp.proxy65_port else "",
        "require_encryption": _lua_table(xmpp.c2s_require_encryption),
        "allow_unencrypted_plain": _lua_table(not xmpp.c2s_require_encryption),
        "external_services": _lua_table([_external_service(s) for s in xmpp.external_services]),
        "contact_info": _lua_table(xmpp.contact_info),
        "proxy65_component": _proxy65_component(settings),
    }
    text = Template(_package_file("templates", "prosody.cfg.lua")).substitute(
        {k: v if isinstance(v, int) else _lua(v) for k, v in values.items()} | lua,
        **c2s_limits(settings.rate_limits))
    if xmpp.prosody_include:
        include = Path(xmpp.prosody_include).expanduser().resolve()
        if not include.is_file():
            raise ValueError(f"CHAT_XMPP__PROSODY_INCLUDE: no such file: {include}")
        # after the global options (it may change them) and before the hosts (it may add its own)
        marker = '\nVirtualHost "'
        at = text.index(marker)
        text = (text[:at] + f'\n-- CHAT_XMPP__PROSODY_INCLUDE\nInclude "{_lua(include)}"\n'
                + text[at:])
    # The file holds the component secret and the auth credentials: owner only.
    fd = os.open(files.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(files.config, 0o600)
    return files


def _parent_death_signal():
    """A preexec function asking Linux to SIGTERM the child when its parent dies (or None)."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    PR_SET_PDEATHSIG = 1

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec


_PARENT_DEATH_SIGNAL = _parent_death_signal()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True


async def _component_answers(host: str, port: int, domain: str) -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        writer.write(f"<stream:stream xmlns='jabber:component:accept' xmlns:stream="
                     f"'http://etherx.jabber.org/streams' to='{domain}'>".encode())
        data = await asyncio.wait_for(reader.read(4096), 1.0)
        return b"stream" in data
    except (OSError, asyncio.TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


class ProsodyError(RuntimeError):
    pass


class ProsodyProcess:
    """One supervised Prosody. `start()` returns once its ports accept connections."""

    def __init__(self, settings: Settings, files: ProsodyFiles | None = None,
                 store_id: str | None = None) -> None:
        self._settings = settings
        self._files = files or ProsodyFiles.under(settings.data_dir, store_id)
        self._lock = DataDirLock(self._files.lock)
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task | None = None
        self._reader: asyncio.Task | None = None
        self._stopping = False
        self._started_at = 0.0
        self.restarts = 0
        self._output: list[str] = []

    @property
    def files(self) -> ProsodyFiles:
        return self._files

    @property
    def pid(self) -> int | None:
        proc = self._process
        return proc.pid if proc is not None and proc.returncode is None else None

    def status(self) -> dict:
        return {"running": self.pid is not None, "pid": self.pid, "restarts": self.restarts}

    async def start(self) -> None:
        if shutil.which(self._settings.xmpp.prosody_command) is None:
            raise ProsodyError(f"{self._settings.xmpp.prosody_command!r} not found: install it with "
                               "`make system-deps` (scripts/system-deps.sh) or set CHAT_XMPP__EMBEDDED=false")
        self._stopping = False
        self._lock.acquire()
        try:
            if self._files.data.name.startswith(EMBEDDED_PREFIX):
                self._files.forget_other_embedded_stores()
            await self._spawn()
        except BaseException:
            self._lock.release()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name="prosody-supervisor")

    async def _spawn(self) -> None:
        render_config(self._settings, self._files)
        await self._stop_stale()
        self._output = []
        # Own session: a terminal's Ctrl-C reaches only us, and we stop Prosody in order. If we
        # die without stopping it, the kernel sends it SIGTERM (Linux parent-death signal).
        self._process = await asyncio.create_subprocess_exec(
            self._settings.xmpp.prosody_command, "-F", "--config", str(self._files.config),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, cwd=str(self._files.root),
            start_new_session=True, preexec_fn=_PARENT_DEATH_SIGNAL)
        self._started_at = time.monotonic()
        self._reader = asyncio.create_task(self._relay_output(self._process), name="prosody-output")
        logger.info("Prosody started (pid %s), config %s", self._process.pid, self._files.config)
        try:
            await self._wait_ready(self._process)
        except BaseException:
            await self._terminate(self._process)
            raise

    async def _wait_ready(self, proc: asyncio.subprocess.Process) -> None:
        xmpp = self._settings.xmpp
        host = loopback(xmpp.host)
        ports = [xmpp.c2s_port, xmpp.component_port, xmpp.http_port]
        if xmpp.c2s_direct_tls_port:
            ports.append(xmpp.c2s_direct_tls_port)
        deadline = time.monotonic() + xmpp.start_timeout_seconds
        pending = list(ports)
        while pending:
            taken = [line for line in self._output if "Failed to open server port" in line]
            if taken:
                raise ProsodyError("Prosody could not open its ports (another program uses them? "
                                   "set CHAT_XMPP__*_PORT): " + " | ".join(taken))
            if proc.returncode is not None:
                raise ProsodyError(f"Prosody exited with code {proc.returncode} during start-up: "
                                   + " | ".join(self._output[-8:]))
            # the component port must be Prosody's own: it answers a component stream header (a
            # port taken by another program may accept connections before Prosody says it failed)
            pending = [p for p in pending if not await (
                _component_answers(host, p, xmpp.muc_domain) if p == xmpp.component_port
                else _port_open(host, p))]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise ProsodyError(f"Prosody did not open ports {pending} within "
                                   f"{xmpp.start_timeout_seconds}s: " + " | ".join(self._output[-8:]))
            await asyncio.sleep(0.05)
        # The port may belong to someone else: make sure our process is still the one running.
        await asyncio.sleep(0.1)
        if any("Failed to open server port" in line for line in self._output):
            raise ProsodyError("Prosody could not open its ports: " + " | ".join(self._output[-4:]))
        if proc.returncode is not None:
            raise ProsodyError(f"Prosody exited with code {proc.returncode} during start-up "
                               "(ports taken?): " + " | ".join(self._output[-8:]))

    async def _relay_output(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self._output = (self._output + [text])[-50:]
                logger.log(logging.INFO if self._stopping else logging.WARNING, "prosody: %s", text)

    async def _supervise(self) -> None:
        backoff = 0.5
        while not self._stopping:
            proc = self._process
            assert proc is not None
            code = await proc.wait()
            if self._stopping:
                return
            if time.monotonic() - self._started_at > 60:
                backoff = 0.5
            logger.warning("Prosody (pid %s) exited with code %s; restarting it in %.1fs",
                           proc.pid, code, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._settings.xmpp.restart_backoff_max_seconds)
            while not self._stopping:
                try:
                    await self._spawn()
                    self.restarts += 1
                    logger.warning("Prosody restarted (pid %s)", self.pid)
                    break
                except (ProsodyError, OSError) as exc:
                    logger.error("Prosody restart failed: %s; retrying in %.1fs", exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._settings.xmpp.restart_backoff_max_seconds)

    async def _stop_stale(self) -> None:
        """A Prosody left running by an earlier crash of ours (same config file) is stopped. Only
        called while this process holds the data directory's lock: a live Prosody of another
        running chatbridge cannot be on this pid file (that process would hold the lock)."""
        try:
            pid = int(self._files.pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        cmdline = _cmdline(pid)
        if (pid <= 1 or pid == self.pid or not _alive(pid) or "prosody" not in cmdline
                or str(self._files.config) not in cmdline):
            return
        logger.warning("stopping a stale Prosody (pid %s) left by an earlier run", pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except asyncio.TimeoutError:
                logger.warning("Prosody (pid %s) ignored SIGTERM; killing it", proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 2.0)

    def kill_for_test(self) -> int:
        """Kills the running Prosody (SIGKILL) without stopping supervision; returns its pid."""
        pid = self.pid
        if pid is None:
            raise ProsodyError("Prosody is not running")
        os.kill(pid, signal.SIGKILL)
        return pid

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        if self._process is not None:
            await self._terminate(self._process)
            logger.info("Prosody stopped (exit code %s)", self._process.returncode)
        self._lock.release()
