# workflow-scheduler: one image for every role. The command picks the role:
#   api (default), worker, migrate, token USER [--admin]
# See deploy/README.md and docker-compose.temporal.yaml.
#
# The project is installed *editable* from /app on purpose: scheduler/db.py
# reads the SQL migrations from the `sql/` folder beside the package folder
# (MIGRATIONS_DIR = <scheduler>/../sql), and a plain `pip install .` puts the
# packages in site-packages without sql/, so `migrate` would find no migration.
# Installed editable, the code runs from /app/scheduler and finds /app/sql.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, read from pyproject.toml, so that this layer is rebuilt
# only when pyproject.toml changes and not on every source change.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The source tree (see .dockerignore), then the project itself without
# dependencies. Byte-compiled now, because the runtime user cannot write /app.
COPY . .
RUN pip install --no-deps -e . \
    && python -m compileall -q scheduler api service activities temporal_workflows \
    && python -c "from scheduler.db import migration_files; assert migration_files(), 'no SQL migrations found'"

# Unprivileged runtime user; the code in /app stays owned by root, read-only
# to it. Numeric, so that "run as non-root" checks can verify it.
RUN groupadd --system --gid 10001 scheduler \
    && useradd --system --uid 10001 --gid scheduler --home-dir /home/scheduler \
       --create-home --shell /usr/sbin/nologin scheduler
USER 10001:10001

EXPOSE 8003

# Liveness of the `api` role (GET /health; no curl in the slim image). Other
# roles have no HTTP port: docker-compose.temporal.yaml disables it for them.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8003'), timeout=4)"]

ENTRYPOINT ["workflow-scheduler"]
CMD ["api"]
