# Shiori for libraries that deploy containers. Configure it with PORTAL_* environment variables
# (see README, "Configuration"); mount /srv/shiori/instance to keep the instance folder. The portal
# runs as uid 999: a mounted host folder must be writable by it (`chown 999 DIR`; a new named volume
# already is); `docker run --rm -v DIR:/srv/shiori/instance IMAGE python -m config.init` writes its
# portal.cfg with a SECRET_KEY. tools/container_smoke.sh builds and checks the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PORTAL_INSTANCE_PATH=/srv/shiori/instance SHIORI_BIND=0.0.0.0:8000
WORKDIR /srv/shiori/app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN pybabel compile -d translations \
    && useradd --system --uid 999 --home /srv/shiori shiori \
    && mkdir -p /srv/shiori/instance /srv/shiori/.gunicorn \
    && chown shiori /srv/shiori/instance /srv/shiori/.gunicorn
USER shiori

EXPOSE 8000
# On the port SHIORI_BIND names, should it be changed.
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['SHIORI_BIND'].rpartition(':')[2])"
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"]
