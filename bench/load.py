"""Benchmark: the portal under gunicorn, many patrons at once, against the demo SIP2 server (issue 7, part 7).

    python bench/load.py                                   # 200 patrons for 60 s, 20 ms per SIP2 reply
    python bench/load.py --duration 10 --patrons 50        # a smoke run
    python bench/load.py --config 3x8x4 --config 3x8x3     # several configurations (workers x threads x pool)

What it starts, all on free 127.0.0.1 ports, and stops again (by pid, in ``finally``, Ctrl-C included):

* the **demo SIP2 server** (adapters/demo/sip2_server.py) in a child process, over a fresh copy of a
  freshly seeded demo ILS, answering each request ``--latency-ms`` after it arrives; a subclass of its handler counts
  every frame it receives, so "ILS messages" are counted where the ILS sees them;
* **gunicorn** with the project's own ``deploy/gunicorn.conf.py`` serving ``app:create_app()``, with
  ``PORTAL_ADAPTER=sip2`` pointed at that server, a throwaway ``PORTAL_INSTANCE_PATH`` made with
  ``python -m config.init`` (and ``flask db upgrade``), ``SHIORI_WORKERS``/``SHIORI_THREADS`` and
  ``PORTAL_SIP2_POOL_SIZE`` from ``--config WxTxP`` (default 2x8x4: a worker per core, the default
  threads and pool size: 8 SIP2 connections, about what two cores keep 80% busy at 20 ms a message;
  deploy/gunicorn.conf.py itself starts 3 workers on 2 cores: 3x8x4), and ``PORTAL_RATELIMIT_ENABLED=false``: every
  simulated patron comes from 127.0.0.1 and the 9 accounts are shared, so the per-address and
  per-card login limits would otherwise refuse almost every login (the limits are not measured here);
* **the patrons**: ``--patrons`` coroutines in this process (asyncio, with bench/http1.py: one
  cookie jar each, as a browser has; a new connection for every request, as nginx's default
  ``proxy_pass`` in front of gunicorn opens one, or with ``--keep-alive`` one kept-alive connection
  each straight to gunicorn), each looping without pause:
  GET /login, POST /login (with the form's CSRF token), GET / (the menu), GET /loans, POST
  /loans/renew (one loan, when the page offers a checkbox), GET /loans (the outcome), GET /holds,
  POST /logout. They use the demo's cards (``flask demo patrons --json``) except ``locked`` and
  ``first-login``: 9 accounts shared by all patrons.

The first ``--warmup`` seconds are not counted (workers start, SIP2 connections open, the item
cache fills); then ``--duration`` seconds are. A page view is one HTTP request to the portal (a GET
of a page, or a POST answered by a redirect; no static files). An error is a status other than
2xx/3xx, a timeout or a broken connection, or a page other than the step expects (a refused login,
a redirect to the login page while logged in, a loans page after a renewal without its outcome);
a patron who meets one starts again from the login.

The ILS's ceiling is what the portal's SIP2 connections could carry if every one were busy all the
time: workers x pool size connections, one message per ``--latency-ms`` each; in page views per
second, that divided by the ILS messages per page view measured. The issue's goal: no errors, p99
under 1 s, throughput at least 80% of that ceiling.

The demo ILS hashes passwords with werkzeug's default (scrypt: about 0.1 s of CPU and 32 MB per
check) on the portal's own cores; a real ILS does not run on the portal's machine. Unless
``--scrypt`` is given, the bench's throwaway copy re-hashes the demo patrons' passwords with
pbkdf2:sha256 at 1,000 iterations, and says so. CPU use of this process (the load generator),
gunicorn (master and workers), the SIP2 server and the whole machine is read from /proc over the
measured window. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.demo.store import copy_database  # noqa: E402
from bench.harness import DemoSip2ServerProcess, free_port, seed_demo_ils  # noqa: E402
from bench.http1 import Client, HttpError, Response  # noqa: E402

EXCLUDED_CASES = {"locked", "first-login"}
CHEAP_HASH = "pbkdf2:sha256:1000"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LOAN_CHECKBOX = re.compile(r'name="loan" value="([^"]+)"')
STEPS = (
    ("login form", "GET /login"),
    ("log in", "POST /login"),
    ("menu", "GET /"),
    ("loans", "GET /loans"),
    ("renew one", "POST /loans/renew"),
    ("loans, renewed", "GET /loans"),
    ("holds", "GET /holds"),
    ("log out", "POST /logout"),
)
TICKS = os.sysconf("SC_CLK_TCK")


# --- the demo ILS copy ---------------------------------------------------------------------------------


def seed_demo(folder: Path, scrypt: bool) -> tuple[Path, list[dict]]:
    """A freshly seeded demo ILS (the template every configuration's copy is made from), and its patrons."""
    from werkzeug.security import generate_password_hash

    seeded = folder / "seed.sqlite3"
    patrons = seed_demo_ils(seeded).demo_patrons()  # what `flask demo patrons --json` prints
    if not scrypt:
        with sqlite3.connect(seeded) as conn:
            conn.executemany("UPDATE patrons SET password_hash = ? WHERE card = ?",
                             [(generate_password_hash(p["password"], method=CHEAP_HASH), p["card"]) for p in patrons])
        conn.close()
    return seeded, [p for p in patrons if p["case"] not in EXCLUDED_CASES]


def cpu_reference() -> float:
    """Milliseconds of CPU for a fixed pure-Python loop: how fast this machine is right now (a shared VM's
    speed can drift by half during a session; compare figures from runs with similar references)."""
    started = time.process_time()
    total = 0
    for number in range(2_000_000):
        total += number
    return (time.process_time() - started) * 1000


def hash_cost(scrypt: bool) -> float:
    """CPU seconds of one password check as the bench's ILS copy does it."""
    from werkzeug.security import check_password_hash, generate_password_hash

    stored = generate_password_hash("x" * 10, **({} if scrypt else {"method": CHEAP_HASH}))
    started = time.process_time()
    for _ in range(3):
        check_password_hash(stored, "y" * 10)
    return (time.process_time() - started) / 3


# --- gunicorn ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    workers: int
    threads: int
    pool: int

    @classmethod
    def parse(cls, text: str) -> Shape:
        try:
            workers, threads, pool = (int(part) for part in text.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give WORKERSxTHREADSxPOOL, e.g. 2x16x8") from None
        if min(workers, threads, pool) < 1:
            raise argparse.ArgumentTypeError(f"{text!r}: every part must be at least 1")
        return cls(workers, threads, pool)

    def __str__(self) -> str:
        return f"{self.workers}x{self.threads}x{self.pool}"


class Portal:
    """gunicorn -c deploy/gunicorn.conf.py "app:create_app()", on a throwaway instance folder."""

    def __init__(self, folder: Path, shape: Shape, sip2_port: int, database: Path, pickups: str,
                 redis_url: str = "", keep_alive: bool = False) -> None:
        self.folder = folder
        self.port = free_port()
        self.log_path = folder / "gunicorn.log"
        metrics_dir = folder / "prometheus"
        metrics_dir.mkdir()
        self.env = {
            **os.environ,
            "PORTAL_INSTANCE_PATH": str(folder / "instance"),
            "PORTAL_ADAPTER": "sip2",
            "PORTAL_SIP2_HOST": "127.0.0.1",
            "PORTAL_SIP2_PORT": str(sip2_port),
            "PORTAL_SIP2_POOL_SIZE": str(shape.pool),
            "PORTAL_SIP2_PICKUP_LOCATIONS": pickups,
            "PORTAL_DEMO_DATABASE": str(database),
            "PORTAL_RATELIMIT_ENABLED": "false",
            "PORTAL_MAIL_HOST": "",
            "SHIORI_BIND": f"127.0.0.1:{self.port}",
            "SHIORI_WORKERS": str(shape.workers),
            "SHIORI_THREADS": str(shape.threads),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        if keep_alive:  # browsers straight to gunicorn: let each worker hold idle connections
            self.env["SHIORI_KEEPALIVE"] = "5"
        if redis_url:  # sessions (and limits, were they on) in Redis, as several instances share them
            self.env.update(PORTAL_SESSION_REDIS_URL=redis_url, PORTAL_RATELIMIT_STORAGE_URI=redis_url)
        self.process: subprocess.Popen | None = None
        self.worker_pids: set[int] = set()

    def prepare(self) -> None:
        for command in ([sys.executable, "-m", "config.init"], [sys.executable, "-m", "flask", "--app", "app", "db",
                                                                  "upgrade"]):
            done = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True,  # noqa: S603
                                  timeout=120)
            if done.returncode:
                raise SystemExit(f"{' '.join(command[2:])} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "app:create_app()"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)  # Ctrl-C reaches the bench only; the bench stops gunicorn itself
        finally:
            log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    if sock.recv(64).split(b" ")[1:2] == [b"200"]:
                        self.worker_pids |= set(children_of(self.process.pid))
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer /healthz in 60 s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None:
            return
        self.worker_pids |= set(children_of(self.process.pid))
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)  # gunicorn's quick shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(pid_alive(pid) for pid in self.worker_pids):
            time.sleep(0.1)  # workers finishing their own shutdown
        for pid in self.worker_pids:  # a worker the master left behind: still ours, not a reused pid
            if pid_alive(pid) and self._own_worker(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _own_worker(self, pid: int) -> bool:
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except (OSError, ValueError):
            return False
        bind = f"SHIORI_BIND={self.env['SHIORI_BIND']}".encode()
        return (parent in (self.process.pid, 1) and b"gunicorn" in command
                and bind in environ.split(b"\0"))

    def failures(self) -> list[str]:
        """Every exception in gunicorn's log, with the project's innermost frame, most frequent first."""
        lines = self.log_tail(1_000_000).splitlines()
        found = Counter()
        index = 0
        while index < len(lines):
            if not lines[index].startswith("Traceback"):
                index += 1
                continue
            end, where = index + 1, ""
            while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
                frame = re.match(r'\s+File "(.+)", line (\d+), in (\S+)', lines[end])
                if frame and frame.group(1).startswith(str(ROOT)) and "/.venv/" not in frame.group(1):
                    where = f"{Path(frame.group(1)).relative_to(ROOT)}:{frame.group(2)} {frame.group(3)}"
                end += 1
            if end < len(lines):
                found[f"{lines[end][:160]} (last project frame: {where or 'none'})"] += 1
            index = end + 1
        return [f"{n} x {text}" for text, n in found.most_common()]

    def recycled_workers(self) -> int:
        """Worker processes started beyond the configured number (gunicorn's max_requests recycling)."""
        text = self.log_tail(100_000)
        return max(0, text.count("Booting worker with pid") - int(self.env["SHIORI_WORKERS"]))


# --- CPU accounting (from /proc) -----------------------------------------------------------------------


def children_of(parent: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry))
    return pids


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cpu_seconds(pid: int, *, with_reaped_children: bool = False) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: workers already recycled
    return ticks / TICKS


def machine_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values[:8]) - idle, sum(values[:8])


@dataclass
class CpuSample:
    at: float
    client: float
    portal: float
    ils: float
    machine_busy: int
    machine_total: int
    workers: dict[int, float]


def sample_cpu(portal: Portal, sip2: DemoSip2ServerProcess) -> CpuSample:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    master = portal.process.pid if portal.process else 0
    workers = {pid: cpu_seconds(pid) for pid in children_of(master)}
    portal.worker_pids |= set(workers)
    portal_cpu = cpu_seconds(master, with_reaped_children=True) + sum(workers.values())
    busy, total = machine_ticks()
    return CpuSample(time.monotonic(), usage.ru_utime + usage.ru_stime, portal_cpu,
                     cpu_seconds(sip2.pid) if sip2.pid else 0.0, busy, total, workers)


# --- the patrons ---------------------------------------------------------------------------------------


class UnexpectedPage(Exception):
    pass


@dataclass
class Stats:
    started: float = math.inf  # the measured window: nothing counts before it opens
    ended: float = math.inf
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    error_examples: dict[str, str] = field(default_factory=dict)
    renewals_offered: int = 0
    loops: int = 0

    def counts(self, moment: float) -> bool:
        return self.started <= moment <= self.ended

    def record(self, step: str, began: float, finished: float) -> None:
        if self.counts(finished):
            self.latencies[step].append(finished - began)

    def error(self, step: str, kind: str, detail: str, finished: float) -> None:
        if self.counts(finished):
            self.errors[(step, kind)] += 1
            self.error_examples.setdefault(f"{step}: {kind}", detail[:200])


class Patron:
    def __init__(self, client: Client, account: dict, stats: Stats, rng: random.Random, timeout: float) -> None:
        self.client = client
        self.timeout = timeout
        self.account = account
        self.stats = stats
        self.rng = rng

    async def _send(self, step: str, method: str, path: str, *, data: dict | None = None, expect: int = 200,
                    location: str | None = None, contains: str | None = None) -> Response:
        began = time.monotonic()
        try:
            response = await asyncio.wait_for(self.client.request(method, path, data), self.timeout)
        except TimeoutError as exc:
            await self.client.close()  # the answer may still come: never read it as the next one's
            self.stats.error(step, "timeout", f"no answer in {self.timeout:g} s", time.monotonic())
            raise UnexpectedPage from exc
        except HttpError as exc:
            self.stats.error(step, "connection", str(exc), time.monotonic())
            raise UnexpectedPage from exc
        finished = time.monotonic()
        status = response.status
        if status >= 400 or status < 200:
            self.stats.error(step, f"HTTP {status}", response.text[:200], finished)
            raise UnexpectedPage
        where = response.headers.get("location", "")
        if status != expect or (location is not None and where.split("?")[0] != location):
            self.stats.error(step, f"unexpected {status} {where.split('?')[0]}".rstrip(), response.text[:200], finished)
            raise UnexpectedPage
        if contains is not None and contains not in response.text:
            self.stats.error(step, f"page without {contains}", response.text[-300:], finished)
            raise UnexpectedPage
        self.stats.record(step, began, finished)
        return response

    def _token(self, html: str) -> str:
        found = CSRF_INPUT.search(html)
        if found is None:
            raise UnexpectedPage("no CSRF token")
        return found.group(1)

    async def loop_once(self) -> None:
        card, password = self.account["card"], self.account["password"]
        page = await self._send("login form", "GET", "/login")
        await self._send("log in", "POST", "/login", data={
            "csrf_token": self._token(page.text), "card_number": card, "password": password, "next": ""},
            expect=302, location="/")
        menu = await self._send("menu", "GET", "/")
        token = self._token(menu.text)  # the session's token, good for every form until logout
        loans = await self._send("loans", "GET", "/loans")
        offered = LOAN_CHECKBOX.findall(loans.text)
        if offered:
            self.stats.renewals_offered += 1
            await self._send("renew one", "POST", "/loans/renew", data={
                "csrf_token": token, "action": "selected", "loan": self.rng.choice(offered)},
                expect=302, location="/loans")
            await self._send("loans, renewed", "GET", "/loans", contains='class="outcomes"')
        await self._send("holds", "GET", "/holds")
        await self._send("log out", "POST", "/logout", data={"csrf_token": token}, expect=302, location="/login")
        if self.stats.counts(time.monotonic()):
            self.stats.loops += 1

    async def run(self, stop: asyncio.Event, start_delay: float) -> None:
        await asyncio.sleep(start_delay)
        while not stop.is_set():
            try:
                await self.loop_once()
            except UnexpectedPage:
                self.client.cookies.clear()  # start again from the login page, as a person would
                await self.client.close()
                await asyncio.sleep(0.2)


async def drive(port: int, accounts: list[dict], patrons: int, warmup: float, duration: float,
                timeout: float, on_window, keep_alive: bool = True) -> Stats:
    """Run the patrons; ``on_window(start|end)`` is called as the measured window opens and closes.
    Without ``keep_alive`` every request has a connection of its own, as a reverse proxy that does
    not keep upstream connections (nginx's default ``proxy_pass``) opens one to gunicorn per request."""
    stats = Stats()
    stop = asyncio.Event()
    headers = {"Accept-Language": "ja", "User-Agent": "shiori-bench-load"}
    if not keep_alive:
        headers["Connection"] = "close"
    clients = [Client("127.0.0.1", port, headers=headers) for _ in range(patrons)]
    rng = random.Random(7)
    ramp = min(2.0, warmup / 2)
    tasks = [asyncio.create_task(Patron(client, accounts[n % len(accounts)], stats, random.Random(n), timeout).run(
        stop, ramp * rng.random())) for n, client in enumerate(clients)]
    try:
        await asyncio.sleep(warmup)
        # on_window reads /proc and scrapes /metrics (blocking I/O): in a thread, so the patrons go on
        # meanwhile; on this loop, a slow scrape would stall every patron at once.
        stats.started = time.monotonic()
        await asyncio.to_thread(on_window, "start")
        await asyncio.sleep(duration - (time.monotonic() - stats.started))
        stats.ended = time.monotonic()
        await asyncio.to_thread(on_window, "end")
        stop.set()
        _done, pending = await asyncio.wait(tasks, timeout=timeout + 5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()
    return stats


# --- /metrics --------------------------------------------------------------------------------------------

METRIC_LINE = re.compile(r'^(shiori_(?:request|ils_call)_seconds)_(sum|count)\{([^}]*)\} ([0-9.e+-]+)$')


def scrape(port: int) -> dict[tuple[str, str, str], float]:
    """Sums and counts of the portal's request and ILS-call histograms, by endpoint or operation."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return {}
    found: dict[tuple[str, str, str], float] = defaultdict(float)
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if match:
            name, kind, labels, value = match.groups()
            label = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            key = label.get("operation") or label.get("endpoint", "")
            found[(name, key, kind)] += float(value)
    return found


# --- one configuration ---------------------------------------------------------------------------------


@dataclass
class Result:
    shape: Shape
    stats: Stats
    seconds: float
    messages: dict[str, int]
    cpu: dict[str, float]
    server_side: dict[tuple[str, str, str], float]
    recycled: int
    patrons: int
    latency_ms: float
    per_worker: list[float]
    failures: list[str]
    ils_answer_ms: float  # mean time from a frame's arrival at the demo SIP2 server to its reply

    @property
    def views(self) -> int:
        return sum(len(v) for v in self.stats.latencies.values()) + sum(self.stats.errors.values())

    @property
    def throughput(self) -> float:
        return self.views / self.seconds

    @property
    def messages_per_view(self) -> float:
        return sum(self.messages.values()) / max(self.views, 1)

    @property
    def ceiling_messages(self) -> float:
        return self.shape.workers * self.shape.pool / (self.latency_ms / 1000)

    @property
    def ceiling_views(self) -> float:
        return self.ceiling_messages / max(self.messages_per_view, 1e-9)

    @property
    def errors(self) -> int:
        return sum(self.stats.errors.values())

    def all_latencies(self) -> list[float]:
        return [value for values in self.stats.latencies.values() for value in values]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def run_config(args, shape: Shape, folder: Path, template: Path, accounts: list[dict]) -> Result:
    from adapters.demo import DemoAdapter

    work = Path(tempfile.mkdtemp(prefix=f"{shape}-", dir=folder))  # a configuration may be given twice
    database = copy_database(template, work / "demo-ils.sqlite3")
    pickups = ",".join(f"{branch}:{name}" for branch, name in DemoAdapter(database).branch_names().items())
    sip2 = DemoSip2ServerProcess(database, args.latency_ms)
    portal: Portal | None = None
    try:
        sip2.start()
        portal = Portal(work, shape, sip2.port, database, pickups, args.redis, args.keep_alive)
        portal.prepare()
        portal.start()
        print(f"  [{shape}] gunicorn pid {portal.process.pid} on 127.0.0.1:{portal.port} "
              f"({shape.workers} workers x {shape.threads} threads, SIP2 pool {shape.pool} per worker); "
              f"demo SIP2 server pid {sip2.pid} on 127.0.0.1:{sip2.port}")
        marks: dict[str, tuple] = {}

        def on_window(moment: str) -> None:
            marks[moment] = (sip2.snapshot(), sample_cpu(portal, sip2), sip2.answer_time())

        started = time.monotonic()
        metrics_before: dict = {}

        def window(moment: str) -> None:
            on_window(moment)
            if moment == "start":
                metrics_before.update(scrape(portal.port))

        stats = asyncio.run(drive(portal.port, accounts, args.patrons, args.warmup, args.duration, args.timeout,
                                  window, keep_alive=args.keep_alive))
        metrics_after = scrape(portal.port)
        (m0, c0, (t0, n0)), (m1, c1, (t1, n1)) = marks["start"], marks["end"]
        seconds = stats.ended - stats.started
        machine = (c1.machine_busy - c0.machine_busy) / max(c1.machine_total - c0.machine_total, 1) * os.cpu_count()
        cpu = {"load generator": (c1.client - c0.client) / seconds, "gunicorn": (c1.portal - c0.portal) / seconds,
               "SIP2 server": (c1.ils - c0.ils) / seconds, "machine": machine}
        per_worker = [(c1.workers[pid] - c0.workers[pid]) / seconds for pid in sorted(c1.workers) if pid in c0.workers]
        server_side = {key: metrics_after.get(key, 0.0) - metrics_before.get(key, 0.0) for key in metrics_after}
        print(f"  [{shape}] done in {time.monotonic() - started:.0f} s")
        return Result(shape, stats, seconds, {k: m1[k] - m0[k] for k in m1 if m1[k] - m0[k]}, cpu, server_side,
                      portal.recycled_workers(), args.patrons, args.latency_ms, per_worker, portal.failures(),
                      (t1 - t0) / max(n1 - n0, 1) * 1000)
    finally:
        if portal is not None:
            portal.stop()
        sip2.stop()


# --- the report ----------------------------------------------------------------------------------------


def report(result: Result) -> None:
    stats = result.stats
    print(f"\n=== {result.shape} (workers x threads x SIP2 pool): {result.patrons} patrons, "
          f"{result.seconds:.1f} s measured ===")
    print(f"  {'step':<16}{'request':<20}{'views':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    errors_by_step = Counter()
    for (step, _kind), n in stats.errors.items():
        errors_by_step[step] += n
    for step, request in STEPS:
        values = stats.latencies.get(step, [])
        print(f"  {step:<16}{request:<20}{len(values) + errors_by_step[step]:>7}"
              f"{percentile(values, .5) * 1000:>9.0f}{percentile(values, .95) * 1000:>9.0f}"
              f"{percentile(values, .99) * 1000:>9.0f}{(max(values) if values else math.nan) * 1000:>9.0f}"
              f"{errors_by_step[step]:>8}")
    every = result.all_latencies()
    print(f"  {'all':<36}{result.views:>7}{percentile(every, .5) * 1000:>9.0f}{percentile(every, .95) * 1000:>9.0f}"
          f"{percentile(every, .99) * 1000:>9.0f}{(max(every) if every else math.nan) * 1000:>9.0f}{result.errors:>8}")
    print(f"  throughput: {result.throughput:,.1f} page views/s ({stats.loops / result.seconds:,.1f} patron loops/s);"
          f" errors: {result.errors}")
    for (step, kind), n in sorted(stats.errors.items()):
        print(f"    {n} x {step}: {kind}  e.g. {stats.error_examples.get(f'{step}: {kind}', '')[:120]!r}")
    total = sum(result.messages.values())
    by_command = " ".join(f"{n}x{command}" for command, n in sorted(result.messages.items(), key=lambda kv: -kv[1]))
    print(f"  ILS: {total:,} SIP2 messages ({total / result.seconds:,.0f}/s), {result.messages_per_view:.2f} per page "
          f"view ({by_command})")
    ratio = result.throughput / result.ceiling_views
    print(f"  ILS ceiling: {result.shape.workers} x {result.shape.pool} = {result.shape.workers * result.shape.pool} "
          f"connections / {result.latency_ms:g} ms = {result.ceiling_messages:,.0f} messages/s"
          f" = {result.ceiling_views:,.1f} page views/s at {result.messages_per_view:.2f} messages per view")
    print(f"  measured / ceiling: {result.throughput:,.1f} / {result.ceiling_views:,.1f} = {ratio:.0%}"
          f" (the demo ILS took {result.ils_answer_ms:.1f} ms on average from a message's arrival to its reply)")
    cpu = result.cpu
    others = cpu["machine"] - cpu["load generator"] - cpu["gunicorn"] - cpu["SIP2 server"]
    print(f"  CPU (cores busy, of {os.cpu_count()}): gunicorn {cpu['gunicorn']:.2f}, SIP2 server {cpu['SIP2 server']:.2f},"
          f" load generator {cpu['load generator']:.2f}, anything else {max(others, 0):.2f};"
          f" machine {cpu['machine']:.2f}")
    if result.per_worker and len(result.per_worker) == result.shape.workers:
        print(f"    gunicorn workers: {', '.join(f'{value:.2f}' for value in result.per_worker)} cores each"
              " (one Python process can use at most 1 core)")
    per_view = cpu["gunicorn"] / max(result.throughput, 1e-9) * 1000
    print(f"    per page view: gunicorn {per_view:.1f} ms of CPU, SIP2 server "
          f"{cpu['SIP2 server'] / max(result.throughput, 1e-9) * 1000:.1f} ms, load generator "
          f"{cpu['load generator'] / max(result.throughput, 1e-9) * 1000:.1f} ms"
          + ("  << the load generator is near one core: its figures are suspect" if cpu["load generator"] > 0.85
             else ""))
    cores = os.cpu_count() or 1
    if cpu["machine"] > 0.9 * cores:
        wanted = 0.8 * result.ceiling_views
        print(f"  CPU-bound: {cpu['machine']:.2f} of {cores} cores busy. 80% of the ceiling ({wanted:,.0f} views/s) "
              f"would take {wanted * per_view / 1000:.1f} cores for gunicorn alone at {per_view:.1f} ms per view"
              f" (+{wanted * cpu['SIP2 server'] / max(result.throughput, 1e-9):.1f} for the demo ILS, which a real"
              f" library runs elsewhere)")
    mean = sum(every) / len(every) if every else math.nan
    print(f"  Little's law: {result.patrons} patrons who never pause / {result.throughput:,.1f} views/s = "
          f"{result.patrons / max(result.throughput, 1e-9):.2f} s per page on average (measured {mean:.2f} s)")
    side = result.server_side
    if side:
        count = sum(v for (name, _k, kind), v in side.items() if name == "shiori_request_seconds" and kind == "count")
        total_s = sum(v for (name, _k, kind), v in side.items() if name == "shiori_request_seconds" and kind == "sum")
        print(f"  inside the portal (/metrics): {total_s / max(count, 1) * 1000:.0f} ms mean per request, against "
              f"{mean * 1000:.0f} ms seen by the patrons (the rest is queueing for a gunicorn thread)")
        operations = sorted({k for (name, k, _kind) in side if name == "shiori_ils_call_seconds"})
        parts = []
        for operation in operations:
            n = side.get(("shiori_ils_call_seconds", operation, "count"), 0)
            if n:
                parts.append(f"{operation} {side[('shiori_ils_call_seconds', operation, 'sum')] / n * 1000:.0f}")
        print(f"    ILS call mean ms: {', '.join(parts)}")
    for failure in result.failures[:5]:
        print(f"  gunicorn log, exception: {failure}")
    if result.recycled:
        print(f"  note: gunicorn replaced {result.recycled} worker(s) during the run (max_requests in "
              f"deploy/gunicorn.conf.py): each new one opens its SIP2 connections and fills its item cache again")


def verdict(result: Result) -> tuple[bool, list[str]]:
    every = result.all_latencies()
    p99 = percentile(every, .99)
    ratio = result.throughput / result.ceiling_views
    misses = []
    if result.errors:
        misses.append(f"{result.errors} errors")
    if not p99 < 1.0:
        misses.append(f"p99 {p99 * 1000:.0f} ms")
    if ratio < 0.8:
        misses.append(f"throughput {ratio:.0%} of the ILS ceiling")
    return not misses, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patrons", type=int, default=200, help="simulated patrons at once")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the measurement starts")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the demo SIP2 server's delay per reply")
    parser.add_argument("--config", type=Shape.parse, action="append", metavar="WxTxP",
                        help="gunicorn workers x threads x SIP2_POOL_SIZE (repeat to compare; default 2x8x4: a worker per "
                        "core on 2 cores, the default threads and pool size)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a patron waits for one page")
    parser.add_argument("--scrypt", action="store_true", help="keep the demo's scrypt password hashes")
    parser.add_argument("--redis", default="", metavar="URL",
                        help="keep sessions in this Redis (e.g. redis://127.0.0.1:6379/15) instead of the SQLite store")
    parser.add_argument("--keep-alive", action="store_true",
                        help="one keep-alive connection per patron straight to gunicorn (SHIORI_KEEPALIVE=5), instead "
                             "of a connection per request as behind nginx's default proxy_pass; each connection then "
                             "stays with the worker that accepted it")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway folder (gunicorn's log) afterwards")
    args = parser.parse_args()
    shapes = args.config or [Shape(2, 8, 4)]
    if args.patrons < 1 or args.duration <= 0 or args.latency_ms <= 0 or args.warmup < 0:
        parser.error("--patrons, --duration and --latency-ms must be positive")

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `kill` stops the bench as cleanly as Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background (`&`)
    folder = Path(tempfile.mkdtemp(prefix="shiori-load-bench-"))
    load = os.getloadavg()
    print(f"Load benchmark: {args.patrons} patrons at once, {args.warmup:g} s warm-up + {args.duration:g} s measured,"
          f" demo SIP2 server at {args.latency_ms:g} ms per reply; {os.cpu_count()} CPUs,"
          f" load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before the run;"
          f" CPU reference {cpu_reference():.0f} ms (a fixed Python loop; lower is faster)")
    try:
        template, accounts = seed_demo(folder, args.scrypt)
        cost = hash_cost(args.scrypt) * 1000
        if args.scrypt:
            print(f"  demo ILS passwords: werkzeug's scrypt, as seeded ({cost:.0f} ms of CPU per login, on these cores)")
        else:
            print(f"  demo ILS passwords re-hashed in the bench's throwaway copy with {CHEAP_HASH} ({cost:.1f} ms per"
                  f" login): the demo's scrypt costs ~{hash_cost(True) * 1000:.0f} ms of CPU per login on the portal's"
                  f" own cores, where a real ILS is elsewhere (--scrypt keeps it)")
        print(f"  rate limits off (PORTAL_RATELIMIT_ENABLED=false): all patrons share 127.0.0.1 and "
              f"{len(accounts)} accounts ({', '.join(a['case'] for a in accounts)})")
        print(f"  sessions: {'in Redis at ' + args.redis if args.redis else 'in the SQLite store (the default)'};"
              f" connections: {'one keep-alive connection per patron (--keep-alive)' if args.keep_alive else 'one per request, as behind a reverse proxy'}")
        results = []
        for shape in shapes:
            results.append(run_config(args, shape, folder, template, accounts))
            report(results[-1])
    except KeyboardInterrupt:
        print("\ninterrupted: every process started has been stopped")
        sys.exit(130)
    finally:
        if args.keep:
            print(f"  kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\nCPU reference after the run: {cpu_reference():.0f} ms")
    print("Goal (issue 7): no errors, p99 under 1 s, throughput >= 80% of the ILS's ceiling.")
    print(f"  {'config':<9}{'views/s':>8}{'p50 ms':>7}{'p95 ms':>7}{'p99 ms':>7}{'errors':>7}{'ceiling':>8}{'ratio':>6}"
          f"  CPU: {'portal':>6}{'ILS':>5}{'client':>7}{'machine':>8}   goal")
    for result in results:
        met, misses = verdict(result)
        every = result.all_latencies()
        cpu = result.cpu
        print(f"  {str(result.shape):<9}{result.throughput:>8.1f}{percentile(every, .5) * 1000:>7.0f}"
              f"{percentile(every, .95) * 1000:>7.0f}{percentile(every, .99) * 1000:>7.0f}{result.errors:>7}"
              f"{result.ceiling_views:>8.1f}{result.throughput / result.ceiling_views:>6.0%}"
              f"       {cpu['gunicorn']:>6.2f}{cpu['SIP2 server']:>5.2f}{cpu['load generator']:>7.2f}"
              f"{cpu['machine']:>8.2f}   {'met' if met else 'NOT met: ' + ', '.join(misses)}")
    if len(results) > 1:
        fastest = max(results, key=lambda r: r.throughput)
        steadiest = min(results, key=lambda r: percentile(r.all_latencies(), .99))
        print(f"  highest throughput: {fastest.shape} ({fastest.throughput:.1f} views/s); lowest p99: {steadiest.shape}"
              f" ({percentile(steadiest.all_latencies(), .99) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
