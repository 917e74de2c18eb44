"""Gunicorn settings for Shiori: ``gunicorn -c deploy/gunicorn.conf.py "app:create_app()"``.

Each worker serves ``threads`` requests at once; a page view mostly waits on the ILS (SIP2 or
HTTP), so threads, not processes, give the concurrency. Keep workers x threads at or below what
the ILS allows (for SIP2: PORTAL_SIP2_POOL_SIZE connections per worker).
"""

import multiprocessing
import os
import tempfile

bind = os.environ.get("SHIORI_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SHIORI_WORKERS", min(4, multiprocessing.cpu_count() * 2)))
threads = int(os.environ.get("SHIORI_THREADS", 8))
worker_class = "gthread"
timeout = int(os.environ.get("SHIORI_TIMEOUT", 30))  # above the ILS timeouts, so they fire first
graceful_timeout = 20
keepalive = 5
max_requests = 5000  # recycle workers now and then
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
# Log lines never hold a query string: a reset or confirmation token would otherwise be logged.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
forwarded_allow_ips = os.environ.get("SHIORI_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Prometheus figures from every worker, added up at /metrics.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="shiori-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
