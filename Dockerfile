# syntax=docker/dockerfile:1
#
# Ledgerflow image: one image for the API (`ledgerflow serve`), the projection
# workers (`ledgerflow worker`) and the operator commands (`ledgerflow projections ...`,
# `ledgerflow audit ...`). See docs/deployment.md.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------
# build: install the package and its dependencies into a virtualenv
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

WORKDIR /src

# Dependencies first, read from pyproject.toml, so that a code change does not
# reinstall them (this layer is cached until pyproject.toml changes).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

# Then the package itself (.dockerignore keeps .venv, var, .git, tests, ... out).
COPY . .
RUN pip install --no-cache-dir . \
    && ledgerflow --help > /dev/null

# ---------------------------------------------------------------------------
# runtime: the virtualenv only, run as an unprivileged user
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG APP_UID=10001
ARG APP_GID=10001

RUN groupadd --system --gid "${APP_GID}" ledgerflow \
    && useradd --system --uid "${APP_UID}" --gid ledgerflow --home-dir /app --shell /usr/sbin/nologin ledgerflow \
    && mkdir -p /app /var/lib/ledgerflow \
    && chown ledgerflow:ledgerflow /app /var/lib/ledgerflow

COPY --from=build /opt/venv /opt/venv

# LEDGERFLOW_DATA_DIR: blobs, and the embedded engines' files when no server URL is set;
# mount a volume there (docker-compose.yml does).
# HOST/PORT: the same values the default CMD and the HEALTHCHECK use.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LEDGERFLOW_DATA_DIR=/var/lib/ledgerflow \
    LEDGERFLOW_HOST=0.0.0.0 \
    LEDGERFLOW_PORT=8000

# The working directory holds no .env file: settings come from the environment only.
WORKDIR /app
USER ledgerflow:ledgerflow

EXPOSE 8000

# Liveness only (/health needs no auth and touches no backend). The slim image has
# no curl, so Python makes the request; a non-2xx status or no answer exits non-zero.
# Containers that do not serve HTTP (ledgerflow worker) must disable this check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('LEDGERFLOW_PORT', '8000'), timeout=4)"]

CMD ["ledgerflow", "serve", "--host", "0.0.0.0"]
