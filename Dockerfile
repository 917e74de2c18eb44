# Shiori for libraries that deploy containers. Configure it with PORTAL_* environment variables
# (see README, "Configuration"); mount /srv/shiori/instance to keep the instance folder.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PORTAL_INSTANCE_PATH=/srv/shiori/instance SHIORI_BIND=0.0.0.0:8000
WORKDIR /srv/shiori/app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN pybabel compile -d translations \
    && useradd --system --home /srv/shiori shiori \
    && mkdir -p /srv/shiori/instance && chown shiori /srv/shiori/instance
USER shiori

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"]
