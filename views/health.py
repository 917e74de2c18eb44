"""Probes for a load balancer or orchestrator.

``/healthz``: the process answers (liveness). ``/readyz``: the ILS and the local store answer
(readiness); a 503 tells the balancer to send patrons to another instance meanwhile.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from adapters.errors import IlsError
from extensions import db, ils

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {}
    try:
        ils().check_ready()
        checks["ils"] = "ok"
    except IlsError as error:
        log.warning("readiness: ILS not ready: %r", error)
        checks["ils"] = "unavailable"
    try:
        db.session.execute(text("SELECT 1"))
        checks["store"] = "ok"
    except Exception as error:  # noqa: BLE001 (any driver error means not ready)
        log.warning("readiness: store not ready: %r", error)
        checks["store"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
