"""Benchmark: the menu over SIP2 with 0 to 6 linked cards (issue 15), in wall time and ILS messages.

    python bench/linked_menu.py                    # 20 ms per reply, pool of 4, medians of 5 views
    python bench/linked_menu.py --latency-ms 50 --repeat 9

In a throwaway folder: a freshly seeded demo ILS served by the demo SIP2 server in a child process
(bench/harness.py), and the portal (ADAPTER=sip2) through its test client. The demo's "regular"
reader logs in and links, one after another, the cards of six other demo readers; after each step
the menu (``GET /``) is viewed ``--repeat`` times. Each linked card costs its loans' 63 (plus
17s for titles, cached after the first view) and its holds' 63s; the own card's counts come from
one 63. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import DemoSip2ServerProcess, seed_demo_ils  # noqa: E402

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
USER, PASSWORD = "bench", "bench-secret"
OWNER = ("2000000001", "yamada2024")
FAMILY = [("2000000007", "nakamura24"), ("2000000004", "takahashi24"), ("2000000003", "suzuki2024"),
          ("2000000010", "emily2024"), ("2000000008", "kobayashi24"), ("2000000006", "ito2024sakura")]


def post(client, page: str, url: str, data: dict):
    token = CSRF_INPUT.search(client.get(page).get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": token, **data})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from app import create_app

    with tempfile.TemporaryDirectory(prefix="shiori-bench-") as folder_name:
        folder = Path(folder_name)
        database = folder / "demo-ils.sqlite3"
        seed_demo_ils(database)
        with DemoSip2ServerProcess(database, args.latency_ms, user=USER, password=PASSWORD) as server:
            app = create_app({
                "SECRET_KEY": secrets.token_hex(16), "INSTANCE_PATH": str(folder / "instance"),
                "DATABASE_URL": f"sqlite:///{folder / 'prefs.sqlite3'}", "DEMO_DATABASE": str(database),
                "RATELIMIT_ENABLED": False, "ADAPTER": "sip2", "LINKED_CARDS_MAX": len(FAMILY),
                "SIP2_HOST": "127.0.0.1", "SIP2_PORT": server.port, "SIP2_USER": USER, "SIP2_PASSWORD": PASSWORD,
                "SIP2_ENCODING": "utf-8", "SIP2_POOL_SIZE": args.pool_size,
            })
            client = app.test_client()
            post(client, "/login", "/login", {"card_number": OWNER[0], "password": OWNER[1]})
            print(f"menu over SIP2 at {args.latency_ms:g} ms per reply, pool {args.pool_size}, "
                  f"median of {args.repeat} views")
            print(f"  {'linked cards':>12}{'wall ms':>10}{'RT':>7}{'msgs':>7}   first view after linking: ms, msgs")
            for linked in range(len(FAMILY) + 1):
                if linked:
                    card, password = FAMILY[linked - 1]
                    if post(client, "/settings/links", "/settings/links",
                            {"card_number": card, "password": password}).status_code != 302:
                        raise SystemExit(f"linking {card} failed")
                views = []
                for _ in range(args.repeat + 1):
                    before = sum(server.snapshot().values())
                    started = time.perf_counter()
                    if client.get("/").status_code != 200:
                        raise SystemExit("the menu failed")
                    views.append(((time.perf_counter() - started) * 1000, sum(server.snapshot().values()) - before))
                first, rest = views[0], views[1:]
                wall = statistics.median(ms for ms, _ in rest)
                messages = statistics.median(n for _, n in rest)
                print(f"  {linked:>12}{wall:>10.1f}{wall / args.latency_ms:>7.1f}{messages:>7.0f}"
                      f"   {first[0]:.0f} ms, {first[1]} msgs")
            app.extensions["shiori.adapter"].close()


if __name__ == "__main__":
    main()
