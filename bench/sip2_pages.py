"""Benchmark: the loans page and the holds page over SIP2, for a patron with 30 loans and 10 holds.

    python bench/sip2_pages.py                                # 20 ms per reply, pool sizes 4 and 8
    python bench/sip2_pages.py --latency-ms 50 --pool-size 8 --repeat 9

What it builds, in a throwaway folder: a freshly seeded demo ILS, copied, and served by the demo
SIP2 server (adapters/demo/sip2_server.py) on a free 127.0.0.1 port. The server runs in a child
process, as a real ILS would not share the portal's interpreter (and its GIL), and delays every
reply by ``--latency-ms``. Every frame it receives is counted there, by command.

The patron is the demo's "many-loans" reader (card 2000000006: 30 loans, 10 holds). For each page:

* **portal page view**: the Flask app (``ADAPTER=sip2``) through its test client, logged in through
  the login form, ``GET /loans`` or ``GET /holds`` rendered in full; with a cold item cache (the
  pool's connections open, the cached 17 answers and every remembered list cleared) and a warm
  one. For the loans page also as a patron meets it: the cache cleared but the items listed last
  time remembered; the first view after logging in (cache cleared before the login, whose 63
  starts the 17s in the background) straight after the menu, and after reading the menu for 1 s;
  and, mid-session, the cache expired, the menu opened and read for 1 s, then the loans page;
* **Sip2Adapter** ``loans()`` / ``holds()`` alone, as the page calls them: from a cold start (a new
  adapter: no connection open, nothing cached), with a cold cache, and warm;
* **naive design**, measured in the same run: one connection, the same 63 lists, then one 17 per
  item in turn, nothing cached (so cold and warm are the same).

Wall times are medians over ``--repeat`` runs, also shown in round trips (wall / latency): the
time of that many replies in a row. The issue's goal: warm <= 2 round trips, cold <= 6, where the
naive design takes about 41 (both pages: 30 + 10 items). Not run by the test suite.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.demo.store import copy_database  # noqa: E402
from bench.harness import DemoSip2ServerProcess, seed_demo_ils  # noqa: E402

CARD, PASSWORD = "2000000006", "ito2024sakura"  # the demo's "many-loans" reader
SIP2_USER, SIP2_PASSWORD = "bench", "bench-secret"
PAGES = {"loans": "/loans", "holds": "/holds"}
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# --- measuring -----------------------------------------------------------------------------------------


@dataclass
class Figure:
    label: str
    messages: list[int]
    seconds: list[float]
    by_command: dict[str, int]

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def spread_ms(self) -> tuple[float, float]:
        return min(self.seconds) * 1000, max(self.seconds) * 1000

    @property
    def message_count(self) -> str:
        low, high = min(self.messages), max(self.messages)
        return str(low) if low == high else f"{low}-{high}"


class Meter:
    def __init__(self, server: DemoSip2ServerProcess, repeat: int, latency_ms: float) -> None:
        self.server = server
        self.repeat = repeat
        self.latency_ms = latency_ms

    def measure(self, label: str, action: Callable[[], object], before: Callable[[], object] | None = None) -> Figure:
        """``action`` ``repeat`` times (``before`` each time, untimed); messages counted at the server."""
        messages, seconds = [], []
        by_command: dict[str, int] = {}
        for _ in range(self.repeat):
            if before is not None:
                before()
            counted = self.server.snapshot()
            started = time.perf_counter()
            action()
            seconds.append(time.perf_counter() - started)
            delta = {name: n - counted[name] for name, n in self.server.snapshot().items()}
            messages.append(sum(delta.values()))
            by_command = {name: n for name, n in delta.items() if n}
        return Figure(label, messages, seconds, by_command)

    def line(self, figure: Figure) -> str:
        low, high = figure.spread_ms
        trips = figure.wall_ms / self.latency_ms if self.latency_ms > 0 else float("nan")
        commands = " ".join(f"{n}x{name}" for name, n in figure.by_command.items())
        return (f"  {figure.label:<44}{figure.message_count:>6}{figure.wall_ms:>10.1f}{trips:>9.1f}"
                f"   ({low:.0f}-{high:.0f} ms; {commands})")


HEADER = f"  {'':<44}{'msgs':>6}{'wall ms':>10}{'RT':>9}   (min-max; messages by command)"


# --- the three designs -----------------------------------------------------------------------------------


def sip2_config(port: int, pool_size: int) -> dict:
    return {"SIP2_HOST": "127.0.0.1", "SIP2_PORT": port, "SIP2_USER": SIP2_USER, "SIP2_PASSWORD": SIP2_PASSWORD,
            "SIP2_ENCODING": "utf-8", "SIP2_POOL_SIZE": pool_size, "SIP2_ITEM_CACHE_SECONDS": 300}


class NaiveClient:
    """One connection, the same 63 lists as the adapter, then one 17 per item in turn; no cache."""

    def __init__(self, port: int) -> None:
        from adapters.sip2.connection import Sip2Connection
        from adapters.sip2.settings import Sip2Settings

        self.connection = Sip2Connection(Sip2Settings(host="127.0.0.1", port=port, user=SIP2_USER,
                                                      password=SIP2_PASSWORD, encoding="utf-8"))
        self.institution = self.connection.open().institution_id or ""

    def _list(self, category: str, attribute: str) -> list[str]:
        from adapters.sip2 import builders
        from adapters.sip2.responses import parse_patron_information

        info = parse_patron_information(self.connection.transact(builders.patron_information_request(
            self.institution, CARD, summary=category, start_item=1, end_item=50)))
        return getattr(info, attribute)

    def _titles(self, item_ids: list[str]) -> dict[str, str]:
        from adapters.sip2 import builders
        from adapters.sip2.responses import parse_item_information

        titles = {}
        for item_id in dict.fromkeys(item_ids):
            info = parse_item_information(self.connection.transact(
                builders.item_information_request(self.institution, item_id)))
            titles[item_id] = info.title or item_id
        return titles

    def loans(self) -> dict[str, str]:
        return self._titles(self._list("charged", "charged_items") + self._list("overdue", "overdue_items"))

    def holds(self) -> dict[str, str]:
        return self._titles(self._list("hold", "hold_items") + self._list("unavailable_holds",
                                                                             "unavailable_hold_items"))

    def close(self) -> None:
        self.connection.close()


def portal_app(instance: Path, database: Path, port: int, pool_size: int):
    from app import create_app

    return create_app({
        "SECRET_KEY": secrets.token_hex(16), "INSTANCE_PATH": str(instance / f"instance-{pool_size}"),
        "DATABASE_URL": f"sqlite:///{instance / f'prefs-{pool_size}.sqlite3'}", "DEMO_DATABASE": str(database),
        "RATELIMIT_ENABLED": False, "ADAPTER": "sip2", **sip2_config(port, pool_size),
    })


def log_in(client) -> None:
    form = client.get("/login").get_data(as_text=True)
    token = CSRF_INPUT.search(form).group(1)
    response = client.post("/login", data={"csrf_token": token, "card_number": CARD, "password": PASSWORD})
    if response.status_code != 302 or response.headers["Location"] != "/":
        raise SystemExit(f"login failed: {response.status_code}")


def rows_on(html: str, page: str) -> int:
    return len(re.findall(rf'name="{"loan" if page == "loans" else "hold"}" value=', html))


# --- the run -------------------------------------------------------------------------------------------


def seed(folder: Path) -> Path:
    """A freshly seeded demo ILS, copied (with SQLite's backup API) to the file the server serves."""
    from adapters.demo import DemoAdapter

    seeded = folder / "seed.sqlite3"
    seed_demo_ils(seeded)
    served = copy_database(seeded, folder / "demo-ils.sqlite3")
    demo = DemoAdapter(served)
    patron = demo.find_patron(CARD)
    loans, holds = len(demo.loans(patron.key)), len(demo.holds(patron.key))
    print(f"  demo ILS: {served} (patron {CARD}, {patron.display_name}: {loans} loans, {holds} holds;"
          f" demo date {demo.today()})")
    return served


def measure_naive(meter: Meter, port: int) -> tuple[dict[str, Figure], dict[str, dict[str, str]]]:
    """The naive design's figures, and what it found (item id -> title) to check the adapter against."""
    naive = NaiveClient(port)
    try:
        figures = {page: meter.measure("naive: 1 connection, serial, no cache", getattr(naive, page))
                   for page in PAGES}
        return figures, {page: getattr(naive, page)() for page in PAGES}
    finally:
        naive.close()


def measure_pool(meter: Meter, folder: Path, database: Path, port: int, pool_size: int,
                 naive_titles: dict[str, dict[str, str]]) -> dict[str, list[Figure]]:
    from adapters.sip2 import Sip2Adapter
    from extensions import db

    results: dict[str, list[Figure]] = {page: [] for page in PAGES}
    config = sip2_config(port, pool_size)

    # The adapter alone, as the pages call it.
    adapter = Sip2Adapter.from_config(config)
    try:
        for page in PAGES:
            call = getattr(adapter, page)
            fresh: list[Sip2Adapter] = []

            def cold_start(call_name=page, fresh=fresh):
                fresh.append(Sip2Adapter.from_config(config))
                return getattr(fresh[-1], call_name)(CARD)

            results[page].append(meter.measure("Sip2Adapter, cold start (no connection)", cold_start))
            for made in fresh:
                made.close()
            call(CARD)  # opens the pool's connections
            results[page].append(meter.measure("Sip2Adapter, cold cache", lambda call=call: call(CARD),
                                               before=adapter.items.clear))
            results[page].append(meter.measure("Sip2Adapter, warm cache", lambda call=call: call(CARD)))
            titles = {item.item_id if page == "loans" else item.hold_id: item.title for item in call(CARD)}
            if titles != naive_titles[page]:
                raise SystemExit(f"the adapter and the naive client disagree on the {page}")
    finally:
        adapter.close()

    # The portal's page views, rendered by Flask.
    app = portal_app(folder, database, port, pool_size)
    try:
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        log_in(client)
        inner = app.extensions["shiori.adapter"]
        inner = getattr(inner, "inner", inner)

        def forget_everything():
            inner.items.clear()
            inner._listed_loans.clear()  # what the last login or loans page listed

        for page, path in PAGES.items():
            html = client.get(path).get_data(as_text=True)  # warm-up: templates compiled, connections open
            if rows_on(html, page) != len(naive_titles[page]):
                raise SystemExit(f"the {page} page shows {rows_on(html, page)} rows")

            def view(path=path, client=client):
                response = client.get(path)
                if response.status_code != 200:
                    raise SystemExit(f"GET {path}: {response.status_code}")

            figures = [meter.measure("portal page view, cold cache", view, before=forget_everything)]
            if page == "loans":
                figures.append(meter.measure("  the same, with the items it listed last time", view,
                                             before=inner.items.clear))
                fresh = [client]

                def log_in_afresh(pause: float, fresh=fresh):
                    """A new browser: cache emptied, then the login form and the menu; then a pause."""
                    forget_everything()
                    fresh[0] = app.test_client()
                    fresh[0].environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
                    log_in(fresh[0])
                    if fresh[0].get("/").status_code != 200:
                        raise SystemExit("the menu failed")
                    time.sleep(pause)

                after_login = lambda fresh=fresh: view(client=fresh[0])  # noqa: E731
                figures.append(meter.measure("  first view after login and menu, no pause", after_login,
                                             before=lambda: log_in_afresh(0)))
                figures.append(meter.measure("  first view after login, menu, 1 s reading it", after_login,
                                             before=lambda: log_in_afresh(1)))

                def expire_then_menu():
                    """Mid-session: the item cache has expired; the patron opens the menu, reads it 1 s."""
                    inner.items.clear()
                    inner._recent.clear()
                    if client.get("/").status_code != 200:
                        raise SystemExit("the menu failed")
                    time.sleep(1)

                figures.append(meter.measure("  cache expired mid-session, menu, 1 s reading", view,
                                             before=expire_then_menu))
            figures.append(meter.measure("portal page view, warm cache", view))
            results[page][:0] = figures
    finally:
        app.extensions["shiori.adapter"].close()
        with app.app_context():
            db.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the demo SIP2 server's delay per reply")
    parser.add_argument("--pool-size", type=int, nargs="+", default=[4, 8], help="SIP2_POOL_SIZE values to try")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (the median is shown)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.latency_ms <= 0 or args.repeat < 1 or min(args.pool_size) < 1:
        parser.error("--latency-ms must be positive, --repeat and --pool-size at least 1")

    folder = Path(tempfile.mkdtemp(prefix="shiori-sip2-bench-"))
    print(f"SIP2 page benchmark: {args.latency_ms:g} ms per reply, pool sizes {args.pool_size}, "
          f"median of {args.repeat}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    try:
        database = seed(folder)
        with DemoSip2ServerProcess(database, args.latency_ms, user=SIP2_USER, password=SIP2_PASSWORD) as server:
            print(f"  demo SIP2 server on 127.0.0.1:{server.port} (child process), counting every frame it receives")
            meter = Meter(server, args.repeat, args.latency_ms)
            naive, naive_titles = measure_naive(meter, server.port)
            by_pool = {pool: measure_pool(meter, folder, database, server.port, pool, naive_titles)
                       for pool in args.pool_size}
        report(meter, args, naive, by_pool, naive_titles)
        print(f"  (load average at the end: {os.getloadavg()[0]:.2f})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(meter: Meter, args, naive: dict[str, Figure], by_pool: dict[int, dict[str, list[Figure]]],
           items: dict[str, dict[str, str]]) -> None:
    latency = args.latency_ms
    for page in PAGES:
        print(f"\n{page} page ({len(items[page])} items), {latency:g} ms per reply; RT = wall / {latency:g} ms")
        print(HEADER)
        for pool, results in by_pool.items():
            print(f"  pool size {pool}:")
            for figure in results[page]:
                print(meter.line(figure))
        print(meter.line(naive[page]))
    print(f"\nGoal (issue 3): warm <= 2 round trips, cold <= 6, where the naive design takes about 41"
          f" (here {sum(len(v) for v in items.values())} items on the two pages).")
    naive_total = sum(naive[page].wall_ms for page in PAGES) / latency
    print(f"  naive, both pages: {naive_total:.1f} RT ({' + '.join(naive[p].message_count for p in PAGES)} messages)")
    for pool, results in by_pool.items():
        print(f"  pool {pool}:")
        for page in PAGES:
            for figure in results[page]:
                if "Sip2Adapter" in figure.label:
                    continue
                trips = figure.wall_ms / latency
                goal = 2 if "warm" in figure.label else 6
                verdict = "ok" if trips <= goal else "OVER"
                print(f"    {page}: {figure.label.strip():<48}{trips:>6.1f} RT  (goal <= {goal}: {verdict})")

if __name__ == "__main__":
    main()
