# One image for every process of a site; docker-compose.yml and compose.site.yml pick the role:
# bin/site prepare|web|worker|beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHON=python

WORKDIR /app

COPY . .
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin issuesync \
    && mkdir -p /app/var \
    && chown -R issuesync /app/var \
    && chmod +x bin/site

# Never run the site as root.
USER issuesync
EXPOSE 8000
CMD ["bin/site", "web"]
