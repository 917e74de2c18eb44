"""A stand-in Koha on 127.0.0.1, for running the portal against "Koha" without one.

It serves the demo library (the patrons of adapters/demo/seed.py, the 283 books of the demo
catalogue, their loans and holds) behind Koha's REST API v1, with Koha's behaviour on the routes the
portal uses (``adapters/demo/koha_server/``, the same fake the tests check against each release's
contract)::

    python tools/fake_koha.py --port 8081
    PORTAL_ADAPTER=koha PORTAL_KOHA_URL=http://127.0.0.1:8081 \\
    PORTAL_KOHA_CLIENT_ID=shiori-portal PORTAL_KOHA_CLIENT_SECRET=fake-koha-client-secret \\
    PORTAL_KOHA_RENEWAL_WINDOW_DAYS=7 flask --app app run

Then log in with a demo card (``GET /_desk`` on the fake lists them with their passwords). The
library's side is at ``/_desk``: ``POST /_desk/checkin/<barcode>`` returns a copy (the first hold
gets it), ``POST /_desk/arrive/<hold_id>`` brings a hold in transit to its pickup library,
``POST /_desk/expire-tokens`` makes Koha forget the OAuth2 tokens, ``POST /_desk/revoke/<flag>`` takes
a permission flag (``circulate``, ...) from the API client. State lives in memory only.

``--koha-version`` picks the release line it plays, with that line's routes and shapes from its
vendored contract (tests/fixtures/koha/): 23.11, 24.05 (the default), 24.11, 25.05, 25.11, or 22.11
(23.11's contract without ``POST /auth/password/validation`` and ``GET /biblios``: the portal then
checks passwords by HTTP Basic authentication as the patron; the fake has RESTBasicAuth on).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import make_server  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

from adapters.demo.koha_server import (  # noqa: E402
    CLIENT_ID,
    CLIENT_SECRET,
    RELEASES,
    STAFF_PASSWORD,
    STAFF_USER,
    FakeKoha,
    release_line,
)

log = logging.getLogger("fake_koha")


def make_app(fake: FakeKoha):
    """The WSGI app: /api/v1/* is Koha; /_desk is the library's side."""

    @Request.application
    def app(request: Request) -> Response:
        if request.path.startswith("/_desk"):
            response = desk(fake, request)
        else:
            answer = fake.handle(request.method, request.path, request.query_string.decode("latin-1"),
                                 dict(request.headers), request.get_data())
            response = Response(answer.body, status=answer.status, headers=answer.headers)
        log.info("%s %s -> %s", request.method, request.path, response.status_code)
        return response

    return app


def desk(fake: FakeKoha, request: Request) -> Response:
    parts = [part for part in request.path.split("/") if part][1:]
    try:
        if request.method == "GET" and not parts:
            return _json({"patrons": fake.demo_patrons(),
                          "actions": ["POST /_desk/checkin/<barcode or item_id>", "POST /_desk/arrive/<hold_id>",
                                      "POST /_desk/expire-tokens", "POST /_desk/revoke/<permission flag>"]})
        if request.method == "POST" and len(parts) == 2 and parts[0] == "checkin":
            hold = fake.checkin(parts[1])
            return _json({"returned": parts[1], "set_aside_for_hold": hold and hold["hold_id"]})
        if request.method == "POST" and len(parts) == 2 and parts[0] == "arrive" and parts[1].isdigit():
            fake.arrive(int(parts[1]))
            return _json({"arrived": int(parts[1])})
        if request.method == "POST" and len(parts) == 2 and parts[0] == "revoke":
            fake.revoke(parts[1])  # try `flask ils check` on an API client missing a permission
            return _json({"revoked": parts[1]})
        if request.method == "POST" and parts == ["expire-tokens"]:
            fake.expire_tokens()
            return _json({"tokens": "forgotten"})
    except (KeyError, ValueError) as exc:
        return _json({"error": str(exc)}, 404)
    return _json({"error": "no such desk action"}, 404)


def _json(data: object, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, indent=2), status=status,
                    content_type="application/json; charset=utf-8")


def _release(text: str) -> str:
    try:
        return release_line(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the fake plays the Koha release lines "
                                         f"{', '.join(RELEASES)}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a stand-in Koha (the demo library) on 127.0.0.1.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--koha-version", default="24.05", type=_release,
                        help=f"the Koha release line to play: {', '.join(RELEASES)}")
    parser.add_argument("--client-id", default=CLIENT_ID)
    parser.add_argument("--client-secret", default=CLIENT_SECRET)
    parser.add_argument("--staff-user", default=STAFF_USER, help="the API client's staff user (HTTP Basic)")
    parser.add_argument("--staff-password", default=STAFF_PASSWORD)
    parser.add_argument("--timezone", default="Asia/Tokyo")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is ours
    fake = FakeKoha(version=args.koha_version, timezone=args.timezone, client_id=args.client_id,
                    client_secret=args.client_secret, staff_user=args.staff_user,
                    staff_password=args.staff_password)
    server = make_server(args.host, args.port, make_app(fake), threaded=True)
    url = f"http://{args.host}:{server.port}"
    print(f"Fake Koha {args.koha_version} at {url} (the demo library; state in memory only)\n"
          f"Run the portal against it:\n"
          f"  PORTAL_ADAPTER=koha PORTAL_KOHA_URL={url} \\\n"
          f"  PORTAL_KOHA_CLIENT_ID={args.client_id} PORTAL_KOHA_CLIENT_SECRET={args.client_secret} \\\n"
          f"  PORTAL_KOHA_RENEWAL_WINDOW_DAYS=7 flask --app app run\n"
          f"Demo cards and passwords: {url}/_desk", flush=True)
    if fake.release.operation("POST", "/auth/password/validation") is None:
        print(f"Koha {args.koha_version} has no POST /auth/password/validation: the portal checks passwords by "
              f"HTTP Basic authentication as the patron (RESTBasicAuth is on here).", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
