# One image for the API, the worker and the one-shot database setup (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    PATH=/app/.venv/bin:$PATH

WORKDIR /app
RUN pip install --no-cache-dir uv \
    && useradd --system --uid 10001 --home-dir /app app \
    && mkdir -p /data && chown app /data

# Dependencies first (cached while only the code changes), exactly as locked.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
# The project itself (editable: the code stays at /app), which installs the operator command line
# `outlook-integration`; the dependencies are already in the layer above.
RUN uv sync --frozen --no-dev
USER app
ENV DATA_DIR=/data
EXPOSE 8000
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
