"""Benchmark: one `flask notices run` over many opted-in patrons, against the demo ILS or its SIP2 server.

    python bench/notices.py                                  # 10,000 patrons, demo ILS in-process
    python bench/notices.py --adapter sip2 --latency-ms 20   # the same data behind the demo SIP2 server
    python bench/notices.py --patrons 2000 --workers 8       # smaller, more ILS concurrency

What it builds, in a throwaway instance folder: the seeded demo ILS plus ``--patrons`` synthetic
patrons (cards 3000000001...) inserted into the demo's SQLite file, so every one is a real patron
the ILS answers for. Free copies of the catalogue go to some of them as ready holds and as loans
due in two days (there are only a few hundred copies, so most patrons have nothing to be told: the
usual day of a library). Every synthetic patron has a confirmed address and both notices on in the
preference store (SQLite, or --database-url). Mail goes to an aiosmtpd sink on loopback.

It runs the notices twice: the first run sends every notice; the second finds them all in the
ledger and sends none (the steady state of a daily cron job). For each it prints patrons per second
and ILS messages per patron: adapter operations for the demo ILS (holds + loans per patron),
SIP2 messages as counted at the server for ``--adapter sip2``. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from app import create_app  # noqa: E402
from bench.harness import free_port  # noqa: E402
from extensions import db  # noqa: E402
from notifications.notices import NoticeRun  # noqa: E402
from store.models import Preference  # noqa: E402


class CountingSink:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.count += 1
        return "250 OK"


def seed_patrons(demo, count: int, ready_share: float, due_share: float) -> list[tuple[str, str]]:
    """Insert ``count`` patrons into the demo ILS; give free copies to some as ready holds and loans due soon.

    Returns [(patron key, card number)].
    """
    patrons = [(f"B{n:05d}", f"3{n:09d}") for n in range(1, count + 1)]
    with demo.store.transaction(write=True) as conn:
        today = demo.store.today(conn)
        password_hash = conn.execute("SELECT password_hash FROM patrons LIMIT 1").fetchone()[0]
        conn.executemany(
            "INSERT INTO patrons (key, card, password_hash, case_slug, display_name, language, card_expires)"
            " VALUES (?, ?, ?, 'bench', ?, 'ja', ?)",
            [(key, card, password_hash, f"Bench {key}", (today + timedelta(days=365)).isoformat())
             for key, card in patrons],
        )
        free = [row[0] for row in conn.execute(
            "SELECT i.id FROM items i WHERE i.id NOT IN (SELECT item_id FROM loans)"
            " AND i.id NOT IN (SELECT item_id FROM holds WHERE item_id IS NOT NULL) ORDER BY i.id")]
        branches = [row[0] for row in conn.execute("SELECT id FROM branches ORDER BY position")]
        ready_n = min(int(count * ready_share), len(free) // 2)
        due_n = min(int(count * due_share), len(free) - ready_n)
        step = max(1, count // max(1, ready_n + due_n))
        chosen = patrons[::step]
        for index, (key, _card) in enumerate(chosen[:ready_n]):
            item = free.pop()
            record = conn.execute("SELECT record_id FROM items WHERE id = ?", (item,)).fetchone()[0]
            conn.execute(
                "INSERT INTO holds (patron_key, record_id, pickup_branch, status, placed_on, item_id, status_since,"
                " pickup_deadline) VALUES (?, ?, ?, 'ready', ?, ?, ?, ?)",
                (key, record, branches[index % len(branches)], (today - timedelta(days=5)).isoformat(), item,
                 today.isoformat(), (today + timedelta(days=7)).isoformat()),
            )
        for key, _card in chosen[ready_n:ready_n + due_n]:
            item = free.pop()
            conn.execute(
                "INSERT INTO loans (item_id, patron_key, checkout_date, due_date, renewals) VALUES (?, ?, ?, ?, 0)",
                (item, key, (today - timedelta(days=12)).isoformat(), (today + timedelta(days=2)).isoformat()),
            )
    print(f"  demo ILS: +{count} patrons, {ready_n} with a hold ready for pickup, {due_n} with a loan due in 2 days")
    return patrons


def seed_preferences(app, keys: list[str]) -> None:
    now = datetime.now(UTC)
    with app.app_context():
        db.session.execute(
            Preference.__table__.insert(),
            [{"patron_key": key, "language": "ja" if n % 5 else "en", "furigana": False,
              "email": f"{key.lower()}@example.jp", "email_confirmed": True, "notify_hold_ready": True,
              "notify_due_soon": True, "created_at": now, "updated_at": now} for n, key in enumerate(keys)],
        )
        db.session.commit()


def timed_run(app, label: str, messages) -> None:
    before = messages()
    started = time.perf_counter()
    summary = NoticeRun(app).run()
    seconds = time.perf_counter() - started
    used = messages() - before
    print(f"  {label}: {summary.line()}")
    print(f"    {summary.patrons / seconds:,.0f} patrons/s, {used / max(summary.patrons, 1):.2f} ILS messages per patron"
          f" ({used:,} in all), {summary.sent / seconds:,.1f} mails/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter", choices=["demo", "sip2"], default="demo")
    parser.add_argument("--patrons", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="SIP2 server delay per reply (sip2 only)")
    parser.add_argument("--workers", type=int, default=4, help="NOTICE_ILS_CONCURRENCY (and SIP2_POOL_SIZE)")
    parser.add_argument("--ready-share", type=float, default=0.05, help="share of patrons with a ready hold")
    parser.add_argument("--due-share", type=float, default=0.05, help="share of patrons with a loan due soon")
    parser.add_argument("--database-url", default="", help="the preference store (default: SQLite in a temp dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    instance = Path(tempfile.mkdtemp(prefix="shiori-bench-"))
    sink = CountingSink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    config = {
        "SECRET_KEY": secrets.token_hex(16),
        "INSTANCE_PATH": str(instance),
        "DEMO_DATABASE": str(instance / "demo-ils.sqlite3"),
        "DATABASE_URL": args.database_url or f"sqlite:///{instance / 'shiori.sqlite3'}",
        "MAIL_HOST": "127.0.0.1",
        "MAIL_PORT": smtp_port,
        "MAIL_FROM": "library@example.jp",
        "NOTICE_ILS_CONCURRENCY": args.workers,
        "ILS_CIRCUIT_THRESHOLD": 10**9,
    }
    print(f"Notice run benchmark: {args.patrons:,} opted-in patrons, adapter {args.adapter}, "
          f"{args.workers} ILS workers, store {config['DATABASE_URL'].split(':')[0]}")
    demo_app = create_app(config)
    demo = demo_app.extensions["shiori.adapter"]
    demo = getattr(demo, "inner", demo)
    patrons = seed_patrons(demo, args.patrons, args.ready_share, args.due_share)

    server = None
    if args.adapter == "sip2":
        from adapters.demo.sip2_server import DemoSip2Server

        server = DemoSip2Server(demo, port=0, latency_ms=args.latency_ms).start()
        counted = Counter()
        respond = server.acs.respond

        def counting(request):
            counted[request.command] += 1
            return respond(request)

        server.acs.respond = counting
        app = create_app({**config, "ADAPTER": "sip2", "SIP2_HOST": "127.0.0.1", "SIP2_PORT": server.port,
                          "SIP2_POOL_SIZE": args.workers, "SIP2_PICKUP_LOCATIONS": "MAIN:本館"})
        keys = [card for _key, card in patrons]  # SIP2's patron key is the card number

        def messages() -> int:
            return sum(counted.values())

        print(f"  demo SIP2 server on 127.0.0.1:{server.port}, {args.latency_ms:g} ms per reply")
    else:
        app = demo_app
        keys = [key for key, _card in patrons]
        operations = Counter()
        guard = app.extensions["shiori.adapter"]
        guard.observer = lambda operation, seconds, outcome: operations.update([operation])

        def messages() -> int:
            return sum(operations.values())

    seed_preferences(app, keys)
    try:
        timed_run(app, "first run (sends)", messages)
        print(f"    SMTP sink received {sink.count:,} messages")
        timed_run(app, "second run (all in the ledger)", messages)
        if args.adapter == "sip2":
            print(f"    SIP2 messages by command: {dict(sorted(counted.items()))}")
    finally:
        if server is not None:
            server.stop()
        smtp.stop()
        app.extensions["shiori.adapter"].close()


if __name__ == "__main__":
    main()
