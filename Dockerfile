# One image recipe for every Carepath service; SERVICE picks which one the image runs:
#
#   docker build --build-arg SERVICE=intake -t carepath-intake .
#
# The image holds the whole project (shared/ and all of services/), so CAREPATH_SERVICE
# can also be overridden at run time; SERVICE only sets its default and is checked here,
# so a typo fails the build rather than the first start. It holds the runtime dependencies
# only: the demo's, the local sinks' and the tests' packages are dependency groups it leaves
# out (pyproject.toml; tests/unit/deploy/test_runtime_dependencies.py).

# The tests run on 3.11 (the lowest Python the project supports); the image matches.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Plain Dockerfile syntax, no BuildKit-only features (no `# syntax=` line, which BuildKit
# fetches from Docker Hub, no cache mounts): the image builds with BuildKit and with the
# classic builder alike, with or without Docker Hub (`make compose-up` picks the base).
# For the classic builder, which runs every stage before its target, the stages are ordered
# so that the sinks come first and the service last.

# ---------------------------------------------------------------------------- uv
FROM ${PYTHON_IMAGE} AS uv

# The project's own lock tool, at the version that wrote uv.lock.
RUN pip install --no-cache-dir uv==0.13.8

# Use the image's Python, never a downloaded one; compile bytecode now so containers
# start fast and never write .pyc files; no download cache left in the layers.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# Registries may be reached through a TLS-inspecting proxy: `make compose-up` copies the
# host's CA bundle into deploy/docker/trust/ (git-ignored), and pip and uv trust it here.
COPY deploy/docker/trust/ /usr/local/share/carepath-trust/
RUN mkdir -p /etc/ssl/certs \
    && if [ -s /usr/local/share/carepath-trust/ca-certificates.crt ]; then \
        cp /usr/local/share/carepath-trust/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt; \
    fi
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt

WORKDIR /app
COPY pyproject.toml uv.lock ./

# ---------------------------------------------------------------------------- sinks-builder
# The local sinks import the standard library and aiosmtpd only: a venv of the `sinks`
# group alone (`--only-group` installs neither the project nor its dependencies).
FROM uv AS sinks-builder
RUN uv sync --frozen --only-group sinks

# ---------------------------------------------------------------------------- base
# What every image here runs as: the interpreter, a venv at /app/.venv, a non-root user.
FROM ${PYTHON_IMAGE} AS base

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 carepath \
    && useradd --system --uid 10001 --gid carepath --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin carepath

WORKDIR /app

# ---------------------------------------------------------------------------- sinks
# The local stand-ins for an e-mail relay and an SMS/push provider (deploy/local/sinks.py),
# for docker compose only (`target: sinks`): they never go into a service image, and the
# service's venv never goes into theirs.
FROM base AS sinks
# What was sent is kept here; a volume mounted on it (docker-compose.yml) inherits the owner.
RUN mkdir -p /tmp/sent && chown 10001:10001 /tmp/sent
COPY --from=sinks-builder /app/.venv /app/.venv
COPY deploy/__init__.py ./deploy/__init__.py
COPY deploy/local/__init__.py ./deploy/local/__init__.py
COPY deploy/local/sinks.py ./deploy/local/sinks.py
USER 10001:10001
CMD ["python", "-m", "deploy.local.sinks", "--host", "0.0.0.0", "--out", "/tmp/sent"]

# ---------------------------------------------------------------------------- tests
# The end-to-end journey suite, for `make compose-test`'s `tests` container
# (docker-compose.yml, profile "tests"): the project with its test dependencies (the dev
# and sinks groups), run against the stack. Never part of a service image.
FROM uv AS tests
RUN uv sync --frozen --no-group demo --no-install-project
COPY README.md ./
COPY shared ./shared
COPY services ./services
COPY deploy ./deploy
COPY tests ./tests
RUN uv sync --frozen --no-group demo
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1
CMD ["python", "-m", "pytest", "tests/e2e/journey", "-p", "no:cacheprovider", "-q"]

# ---------------------------------------------------------------------------- builder
FROM uv AS builder

# The runtime dependencies alone: `--no-default-groups` leaves out every dependency group
# (dev, demo, sinks), which `make` installs by default ([tool.uv] default-groups).
# Third-party dependencies first, from the lock alone: this layer is rebuilt only when
# pyproject.toml or uv.lock change, not on every code edit.
RUN uv sync --frozen --no-default-groups --no-install-project

# Then the project itself, installed into the venv as a regular (non-editable) package
# so the runtime stage needs the venv and nothing else. README.md is package metadata.
COPY README.md ./
COPY shared ./shared
COPY services ./services
RUN uv sync --frozen --no-default-groups --no-editable

# Declared only now, so the layers above are shared by all four services' builds.
ARG SERVICE
RUN if [ -z "${SERVICE}" ]; then \
        echo "build with --build-arg SERVICE=<intake|matching|scheduling|notifications>" >&2; \
        exit 1; \
    fi; \
    if [ ! -f "services/${SERVICE}/__main__.py" ]; then \
        echo "no service '${SERVICE}': services/${SERVICE}/__main__.py is missing" >&2; \
        exit 1; \
    fi

# ---------------------------------------------------------------------------- runtime
FROM base AS runtime

ARG SERVICE
ENV CAREPATH_SERVICE=${SERVICE}

# Owned by root and read-only to the service user: the code cannot be rewritten at run time.
COPY --from=builder /app/.venv /app/.venv

USER 10001:10001

# The API, and Prometheus metrics on a port of their own (<SERVICE>_METRICS_PORT: HTTP port + 1000).
EXPOSE 8000 9000

# Alive, not ready (/readyz also needs Kafka and MongoDB); urllib because slim has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# exec: python replaces the shell, so SIGTERM reaches uvicorn, which drains and exits.
CMD ["sh", "-c", "exec python -m \"services.${CAREPATH_SERVICE}\""]

# ---------------------------------------------------------------------------- service
# The default target (the last stage): the service image, exactly as built above.
FROM runtime AS service
