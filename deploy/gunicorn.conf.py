"""Gunicorn settings for Shiori: ``gunicorn -c deploy/gunicorn.conf.py "app:create_app()"``.

Each worker serves ``threads`` requests at once; a page view mostly waits on the ILS (SIP2 or
HTTP), so threads, not processes, give the concurrency. Keep workers x threads at or below what
the ILS allows (for SIP2: PORTAL_SIP2_POOL_SIZE connections per worker).

Made for a reverse proxy in front (deploy/nginx.conf.example) that opens one connection per
request, as nginx's ``proxy_pass`` does by default. A worker takes a connection only when one of
its threads is free (``worker_connections = threads``), so requests wait in the kernel's one
queue and go to whichever worker frees a thread first. With gunicorn's default (up to 1,000
connections a worker), each worker grabs what it can and queues it for its own threads: under
load one worker's queue grows while another idles, and the slowest pages wait several times the
average (bench/load.py measured a p99 twice as long). Serving browsers directly with keep-alive
instead: ``SHIORI_KEEPALIVE=5`` (seconds), which lets each worker hold idle connections again.
"""

import multiprocessing
import os
import sys
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, wherever gunicorn starts
from views import redaction  # noqa: E402  (needs the path above)

bind = os.environ.get("SHIORI_BIND", "127.0.0.1:8000")
# One more worker than cores: on 2 cores, 3 workers served more page views than 4 at the same or a
# lower p99 (bench/load.py: 398-428 against 386-409 views/s, p99 595-631 against 658-675 ms), as 4
# busy processes on 2 cores keep preempting each other. At most 8: each worker has its own SIP2 pool.
workers = int(os.environ.get("SHIORI_WORKERS", min(8, multiprocessing.cpu_count() + 1)))
threads = int(os.environ.get("SHIORI_THREADS", 8))
worker_class = "gthread"
keepalive = int(os.environ.get("SHIORI_KEEPALIVE", 0))
worker_connections = threads + 1000 if keepalive else threads
timeout = int(os.environ.get("SHIORI_TIMEOUT", 30))  # above the ILS timeouts, so they fire first
graceful_timeout = 20
# Recycle workers now and then (0: never). A new worker starts cold: it opens its SIP2 connections
# and fills its caches again, so not too often: at 100 requests a second that is every ~8 minutes.
max_requests = int(os.environ.get("SHIORI_MAX_REQUESTS", 50_000))
max_requests_jitter = max_requests // 10
accesslog = "-"
errorlog = "-"
# No query string, and the reset, email-confirmation and calendar-feed tokens, which are in the path,
# redacted (views/redaction.py): in the log, a reset path could set the patron's password.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
forwarded_allow_ips = os.environ.get("SHIORI_FORWARDED_ALLOW_IPS", "127.0.0.1")


class RedactingLogger(Logger):
    """gunicorn's logger, with every access and error line passed through views/redaction.py."""

    def setup(self, cfg):
        super().setup(cfg)
        redaction.install(self.access_log, self.error_log)


logger_class = RedactingLogger

# Prometheus figures from every worker, added up at /metrics.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="shiori-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
