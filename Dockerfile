# The c360 worker image: the locked environment and the code, running `c360 deploy` (the
# scheduled deployments) in docker-compose.yml. Settings come from C360_* variables only.
FROM python:3.11.13-slim-bookworm

ENV UV_VERSION=0.13.9 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    C360_HOME=/data

RUN pip install --no-cache-dir "uv==${UV_VERSION}" \
    && useradd --create-home --uid 1000 c360 \
    && mkdir -p /app /data && chown c360:c360 /app /data
WORKDIR /app
USER c360

# Dependencies first, so a code change does not reinstall them.
COPY --chown=c360:c360 pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --python /usr/local/bin/python3
COPY --chown=c360:c360 . .
RUN uv sync --frozen --no-dev --python /usr/local/bin/python3

VOLUME /data
CMD ["c360", "deploy"]
