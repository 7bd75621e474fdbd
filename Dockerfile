# One image for every agentgate process: the gateway, the chat service, the rides service.
# docker-compose.yml picks the process with `command:`.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

# The same uv as the Makefile's bootstrap, so the lock file means the same thing.
RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /app

# Dependencies first, from the lock alone: this layer survives source edits.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project itself (editable, so gateway.migrate finds alembic.ini and migrations/).
COPY alembic.ini ./
COPY migrations ./migrations
COPY gateway ./gateway
COPY services ./services
COPY seeds ./seeds
RUN uv sync --frozen --no-dev

RUN useradd --system --uid 10001 --home-dir /app agentgate \
    && mkdir -p /app/var && chown agentgate /app/var
USER agentgate

EXPOSE 8000
CMD ["agentgate", "serve", "--host", "0.0.0.0", "--port", "8000"]
