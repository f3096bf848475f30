# syntax=docker/dockerfile:1
# The portal's image. One image runs every process (compose.yaml): the web server (the default
# command), the Celery worker, beat, and the one-shot `migrate`.
#   docker build -t managed-apps-portal .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the locked environment, compiled code and the collected static files --------------
FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
WORKDIR /app

# The environment first: it changes less often than the code, so this layer is reused.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project --compile-bytecode --link-mode=copy

COPY manage.py gunicorn.conf.py ./
COPY portal/ portal/
COPY azure_gateway/ azure_gateway/
COPY accounts/ accounts/
COPY deployments/ deployments/
COPY jit/ jit/
COPY templates/ templates/
COPY static/ static/
COPY deploy/healthcheck.py deploy/healthcheck.py

# Hashed, compressed static files for whitenoise, under VAR_DIR/staticfiles. The key only lets
# the settings load here; it is not part of the image's environment.
RUN SECRET_KEY=collectstatic-only PRODUCTION=true VAR_DIR=/app/var \
    .venv/bin/python manage.py collectstatic --noinput \
 && .venv/bin/python -m compileall -q manage.py gunicorn.conf.py portal accounts deployments jit

# --- runtime: no uv, no compilers; runs as an unprivileged user -----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# DejaVu Sans sets the elevation report's PDF in any Latin, Greek or Cyrillic text (jit/report_pdf.py).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 portal \
 && useradd --system --uid 10001 --gid portal --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin portal
WORKDIR /app
COPY --from=build /app /app
# The code and the static files stay root's (read-only to the portal); VAR_DIR itself is
# writable for what the settings may create there (e.g. mail files with EMAIL_URL=file://).
RUN chown portal:portal /app/var

ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PRODUCTION=true \
    VAR_DIR=/app/var
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["python", "deploy/healthcheck.py"]
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
