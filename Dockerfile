# Pasar's application image: the web (gunicorn), worker and cron processes of the Procfile.
# Built by `make image` (FROM the local debian:bookworm-slim that deploy/base-image.sh makes when
# no registry is reachable). Front-end packages come from npm in the `assets` stage and are never
# committed. Build behind a TLS-intercepting proxy with
#   -v /etc/ssl/certs/ca-certificates.crt:/host-ca.crt:ro --build-arg PIP_CERT=/host-ca.crt

FROM docker.io/library/debian:bookworm-slim AS assets
ARG PIP_CERT=
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      nodejs npm ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY package.json package-lock.json ./
COPY scripts/vendor-assets.mjs scripts/
RUN if [ -n "$PIP_CERT" ]; then export npm_config_cafile="$PIP_CERT"; fi \
 && npm ci --no-audit --no-fund --loglevel=error \
 && npm run --silent vendor

FROM docker.io/library/debian:bookworm-slim AS python
ARG PIP_CERT=
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-venv ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
 && if [ -n "$PIP_CERT" ]; then export PIP_CERT="$PIP_CERT"; else unset PIP_CERT; fi \
 && /opt/venv/bin/pip install --quiet --no-cache-dir --disable-pip-version-check \
      -r /tmp/requirements.txt

FROM docker.io/library/debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 ca-certificates tzdata >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 pasar \
 && useradd --system --uid 10001 --gid pasar --home-dir /app --shell /usr/sbin/nologin pasar \
 && mkdir -p /var/lib/pasar/media /run/pasar \
 && chown pasar:pasar /var/lib/pasar/media /run/pasar
COPY --from=python /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root wsgi.py gunicorn.conf.py Procfile ./
COPY --chown=root:root app app
COPY --chown=root:root tenants tenants
COPY --chown=root:root jobs jobs
COPY --chown=root:root migrations migrations
COPY --chown=root:root templates templates
COPY --chown=root:root static static
COPY --from=assets /build/static/vendor static/vendor
# The app creates instance/ at start (the embedded database's home): the only place it writes
# under /app. Uploaded media go to MEDIA_ROOT (a volume in compose, a PVC in Kubernetes).
RUN mkdir instance && chown pasar:pasar instance \
 && /opt/venv/bin/python -m compileall -q app tenants jobs
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLASK_APP=wsgi \
    MEDIA_ROOT=/var/lib/pasar/media \
    PORT=8000
USER pasar
EXPOSE 8000
# The Procfile's processes: web (this default), `flask --app wsgi worker`, `flask --app wsgi cron`
# and the release step `flask --app wsgi db upgrade`.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
