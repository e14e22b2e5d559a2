# Herald's image: the API (`herald serve`), a worker (`herald worker`), `herald migrate` and the
# probe simulator (`herald probe-sim`) from one image. Three stages:
#   assets  npm ci of the pinned browser assets (GraphiQL, and the web UI's packages)
#   deps    a virtualenv with the Python dependencies only, from pyproject.toml alone, so the
#           layer is rebuilt when the dependencies change, not when a source file does
#   final   python:3.11-slim with that virtualenv, the sources and the assets: no compiler,
#           no pip cache, no node, running as an unprivileged user
FROM node:20-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

FROM python:3.11-slim AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /build
COPY pyproject.toml ./
# The [project] dependencies as a requirements file (tomllib is in the standard library):
# installing the project itself here would tie this layer to every source file.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && /opt/venv/bin/pip install --no-compile -r requirements.txt

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 PORT=8000 DATA_DIR=/data
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin herald \
    && mkdir -p /data && chown herald:herald /data \
    && printf '#!/bin/sh\nexec python -m herald.cli "$@"\n' > /usr/local/bin/herald \
    && chmod 755 /usr/local/bin/herald
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
# Whole packages (not single files): the pages import their own modules and styles.
COPY --from=assets /build/node_modules node_modules
COPY pyproject.toml README.md ./
COPY herald herald
COPY gql gql
COPY jobs jobs
COPY models models
COPY metrics metrics
COPY tools tools
COPY migrations migrations
COPY web web
USER 10001:10001
EXPOSE 8000
VOLUME ["/data"]
# Liveness: the process answers HTTP (readiness, /readyz, also needs the database, Redis and a
# worker's heartbeat: orchestrators route traffic by it, see docker-compose.yml and deploy/).
# Plain Python: the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=3)"]
CMD ["herald", "serve"]
