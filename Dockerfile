# errortrail's production image: the example site (demo/) with errortrail installed, run by gunicorn as a
# non-root user. docker-compose.yml runs the site, the consumers and Celery from this one image.
# Build: docker build -t errortrail .        Your own site: install errortrail the same way and copy your project.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 errortrail \
 && useradd --system --uid 10001 --gid errortrail --home-dir /app --shell /usr/sbin/nologin errortrail

# The library first (this layer changes only with the dependencies or errortrail's own code).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY capture ./capture
COPY projector ./projector
COPY bugbot ./bugbot
COPY webui ./webui
RUN pip install . "gunicorn>=23,<24" && rm -rf /src

# The site.
WORKDIR /app
COPY demo ./demo
ENV PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=demo.petclinic.settings \
    DEMO_VAR_DIR=/app/var \
    DJANGO_STATIC_ROOT=/app/static \
    DJANGO_SERVE_STATIC=1 \
    ERRORTRAIL_SPOOL_DIR=/app/var/spool
RUN python demo/manage.py collectstatic --noinput -v 0 \
 && mkdir -p /app/var/spool \
 && chown -R errortrail:errortrail /app/var

USER errortrail
EXPOSE 8000
# --graceful-timeout: SIGTERM lets requests in flight finish; compose's stop_grace_period is longer.
CMD ["gunicorn", "demo.petclinic.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--graceful-timeout", "30", \
     "--access-logfile", "-"]
