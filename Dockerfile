# Herald image: the API (and, with issue 3, the worker) on Python 3.11.
# Stage 1 installs GraphiQL's pinned browser assets with `npm ci` so the page works offline.
FROM node:20-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0 DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY herald herald
COPY gql gql
COPY models models
COPY jobs jobs
COPY tools tools
COPY migrations migrations
RUN pip install --no-cache-dir -e . && useradd --system --home /data herald \
    && mkdir -p /data && chown herald /data
COPY --from=assets /build/node_modules/react/umd node_modules/react/umd
COPY --from=assets /build/node_modules/react-dom/umd node_modules/react-dom/umd
COPY --from=assets /build/node_modules/graphiql/graphiql.min.js node_modules/graphiql/
COPY --from=assets /build/node_modules/graphiql/graphiql.min.css node_modules/graphiql/
USER herald
EXPOSE 8000
# Inside a container the port must listen on all interfaces; publish it to 127.0.0.1 only
# (see docker-compose.yml).
# Readiness (README, Health): the database and Redis answer and a worker's heartbeat is fresh.
# Plain Python: the slim image has no curl; a 503 or no answer within 3 s exits non-zero.
# docker-compose.yml's herald service inherits it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PORT', '8000'), timeout=3)"]
CMD ["herald", "serve"]
