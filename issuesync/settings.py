"""Settings for one simulated Jira site, read from environment variables.

The defaults make `make demo` work with nothing running (SQLite and an embedded
broker under var/<site>/); docker-compose.yml and the tests set the rest.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.getenv(name, default).lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.getenv(name, default))


def envsecret(name: str, default: str) -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker secrets)."""
    path = os.getenv(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.getenv(name, default)


# --- The site's identity -------------------------------------------------
SITE_NAME = os.getenv("SITE_NAME", "alpha")
# The public address partners know this site by; also the canonical base of
# every signed @target-uri, whatever host and port the request really hit.
SITE_ADDRESS = os.getenv("SITE_ADDRESS", f"https://{SITE_NAME}.atlassian.net")
# NAME.atlassian.net=http://host:port pairs, comma separated: where each known
# site really runs. It is also the allowlist of outgoing server-to-server calls.
SITE_DIRECTORY = os.getenv(
    "SITE_DIRECTORY",
    "alpha.atlassian.net=http://127.0.0.1:8001,beta.atlassian.net=http://127.0.0.1:8002",
)
VAR_DIR = Path(os.getenv("VAR_DIR", str(BASE_DIR / "var" / SITE_NAME)))

SECRET_KEY = envsecret("SECRET_KEY", f"insecure-demo-key-for-{SITE_NAME}-change-me-in-production-0123456789")
# Encrypts the site's private signing key at rest; defaults to SECRET_KEY.
SIGNING_KEY_SECRET = envsecret("SIGNING_KEY_SECRET", "") or SECRET_KEY
DEBUG = envbool("DEBUG", "0")
ALLOWED_HOSTS = os.getenv("ALLOWED_HOSTS", "*").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# --- Outgoing calls and the wire -----------------------------------------
OUTGOING_CONNECT_TIMEOUT = float(os.getenv("OUTGOING_CONNECT_TIMEOUT", "3"))
OUTGOING_READ_TIMEOUT = float(os.getenv("OUTGOING_READ_TIMEOUT", "10"))
OUTGOING_MAX_RESPONSE_BYTES = envint("OUTGOING_MAX_RESPONSE_BYTES", "1048576")
INBOUND_MAX_BODY_BYTES = envint("INBOUND_MAX_BODY_BYTES", "262144")
SIGNATURE_MAX_AGE_SECONDS = envint("SIGNATURE_MAX_AGE_SECONDS", "300")
SIGNATURE_MAX_SKEW_SECONDS = envint("SIGNATURE_MAX_SKEW_SECONDS", "30")
# Retry schedule: exponential backoff with full jitter, capped, for DELIVERY_GIVE_UP_AFTER.
DELIVERY_BACKOFF_BASE_SECONDS = float(os.getenv("DELIVERY_BACKOFF_BASE_SECONDS", "1"))
DELIVERY_BACKOFF_MAX_SECONDS = float(os.getenv("DELIVERY_BACKOFF_MAX_SECONDS", "300"))
DELIVERY_GIVE_UP_AFTER_SECONDS = envint("DELIVERY_GIVE_UP_AFTER_SECONDS", str(3 * 24 * 3600))
# How long a worker owns a claimed message before another may take it over; a live worker
# extends it every third of it while it sends, so a killed worker's messages wait seconds, not a minute.
DELIVERY_LEASE_SECONDS = envint("DELIVERY_LEASE_SECONDS", "6")
# The most messages sent to one partner in one signed request (capped at MAX_BATCH_MESSAGES): a
# worker rung for one due message also takes the others due now for that partner, never waiting for more.
DELIVERY_BATCH_SIZE = envint("DELIVERY_BATCH_SIZE", "25")
# While a doorbell for a partner waits in the queue, messages for it ring no other (invitations.doorbells);
# its mark in Redis expires after this long in case it is lost. 0: every message rings its own.
DOORBELL_MARK_SECONDS = float(os.getenv("DOORBELL_MARK_SECONDS", "10"))
DELIVERY_SWEEP_INTERVAL_SECONDS = float(os.getenv("DELIVERY_SWEEP_INTERVAL_SECONDS", "5"))
# A change whose push after commit never ran (its process stopped) is sent within this
# (replication.tasks.missed_changes_sweep).
MISSED_CHANGES_SWEEP_INTERVAL_SECONDS = float(os.getenv("MISSED_CHANGES_SWEEP_INTERVAL_SECONDS", "30"))
# The sweep rings only for messages overdue by more than this: until then a message's own
# doorbell is still on its way through the queue (see invitations.delivery.sweep_grace_seconds).
DELIVERY_SWEEP_GRACE_SECONDS = 5 * DELIVERY_SWEEP_INTERVAL_SECONDS
# Doorbells the sweep rings at most for one partner's overdue messages, each for another batch of them:
# a backlog is then sent by that many worker threads at once (see invitations.tasks.sweep_outbox).
DELIVERY_SWEEP_DOORBELLS_PER_PARTNER = envint("DELIVERY_SWEEP_DOORBELLS_PER_PARTNER", "4")
# Delivered outgoing messages and received bodies older than this are dropped (`prune_messages`,
# also run by the scheduler every MESSAGE_PRUNE_INTERVAL_SECONDS); 0 days in the setting turns the schedule off.
MESSAGE_RETENTION_DAYS = float(os.getenv("MESSAGE_RETENTION_DAYS", "30"))
MESSAGE_PRUNE_INTERVAL_SECONDS = float(os.getenv("MESSAGE_PRUNE_INTERVAL_SECONDS", "3600"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "jira",
    "invitations",
    "synchronizations",
    "mappings",
    "qa",
    "replication",  # issue sync itself: the top layer, subscribed to jira's issue_changed
]
# More apps, comma-separated (e.g. a test app that registers its own message kind).
INSTALLED_APPS += [app.strip() for app in os.getenv("EXTRA_APPS", "").split(",") if app.strip()]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a login refused for a locked-out account into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "issuesync.urls"
WSGI_APPLICATION = "issuesync.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jira.context_processors.site",
            ],
        },
    },
]

# --- Database: PostgreSQL with DATABASE_URL, else SQLite per site ----------
DATABASE_URL = os.getenv("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    # Parameters bound by the server, and a query run a second time on a connection prepared there: a
    # site runs the same few hundred queries all day, and planning them again each time cost PostgreSQL
    # more than running them (an issue's row with its project, type, status, priority and people: about
    # 4 ms to plan, 0.1 ms to run). Connections live CONN_MAX_AGE, so a prepared query is planned once
    # per connection. Measured in docs/benchmarks.md ("prepared queries").
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 2}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "db.sqlite3"),
            # Web, worker and beat share this file: WAL plus IMMEDIATE
            # transactions and a busy timeout avoid "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
# --- Failed-login lockout (django-axes; issuesync/lockout.py) ------------
# After LOGIN_LOCKOUT_FAILURES wrong passwords for one username from one client, every
# authenticate(request=...) for it from there (login page, Django admin, API authentication)
# is refused for LOGIN_LOCKOUT_MINUTES.
LOGIN_LOCKOUT_FAILURES = envint("LOGIN_LOCKOUT_FAILURES", "10")
LOGIN_LOCKOUT_MINUTES = float(os.getenv("LOGIN_LOCKOUT_MINUTES", "15"))
# API tokens (HTTP Basic email:token, as Jira Cloud) for the REST API, passwords for pages. The token
# backend comes before ModelBackend: a valid token is then accepted without hashing it as a password.
AUTHENTICATION_BACKENDS = ["issuesync.lockout.LockoutBackend", "jira.auth.ApiTokenBackend",
                           "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = LOGIN_LOCKOUT_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
# A username from one client address: the client guessing is locked out of that account, while its
# owner elsewhere still logs in (a lock by username alone would let anyone lock the admin out).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Attempts made while locked do not extend the lock: it ends when the message says it does.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "issuesync.lockout.lockout_response"
AXES_HANDLER = "issuesync.lockout.LockoutHandler"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "synchronizations:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_NAME = f"issuesync_{SITE_NAME}_session"
CSRF_COOKIE_NAME = f"issuesync_{SITE_NAME}_csrftoken"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "0")
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", "0")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0")
# Production switches for `check --deploy`: only for deployments whose subdomains are all HTTPS.
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "0")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "0")

# --- Celery --------------------------------------------------------------
REDIS_URL = os.getenv("REDIS_URL", "")
# The embedded default is kombu's SQLAlchemy transport on a SQLite file: it
# works across processes with nothing to install or run, and keeps queued
# tasks across restarts (the filesystem transport was slower in trials).
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}")
CELERY_TASK_DEFAULT_QUEUE = os.getenv("CELERY_QUEUE", f"issuesync-{SITE_NAME}")
CELERY_TASK_IGNORE_RESULT = True
# The database is the source of truth and the broker only a doorbell: a task
# is acknowledged after it ran, requeued if its worker dies, one at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes the database connection around every task unless told to reuse it: a new
# PostgreSQL connection per delivery was a third of a worker's time. Connections are kept
# like in a web request instead (CONN_MAX_AGE, closed when broken: issuesync/celery.py),
# and recycled after this many tasks.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A doorbell is rung from inside an admin's request: with the broker gone it must fail fast
# (the sweep delivers anyway). kombu's Redis transport otherwise waits forever on a broker
# that accepts a connection but never answers, and retries a publish three times.
BROKER_CONNECT_TIMEOUT = float(os.getenv("BROKER_CONNECT_TIMEOUT", "1"))
BROKER_SOCKET_TIMEOUT = float(os.getenv("BROKER_SOCKET_TIMEOUT", "2"))
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_CONNECT_TIMEOUT
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
# kombu's SQLAlchemy transport hands its transport options to create_engine(), which
# refuses unknown ones: the embedded broker's polling interval is set in issuesync/celery.py.
# A worker's own BRPOP runs in its event loop, which no socket timeout applies to: kombu's health
# check drops a BRPOP left unanswered (a broker that went away) after this many seconds, not 25.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {} if CELERY_BROKER_URL.startswith("sqla+") else {
        "visibility_timeout": 3600, "polling_interval": 0.1,
        "socket_connect_timeout": BROKER_CONNECT_TIMEOUT, "socket_timeout": BROKER_SOCKET_TIMEOUT,
        "health_check_interval": 5,
    }
)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # The services' refusals as HTTP, and the failed-login lockout (issuesync.web).
    "EXCEPTION_HANDLER": "issuesync.web.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Issue Sync Pro: Synchronizations API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page loads Swagger UI and ReDoc from this server, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [" + SITE_NAME + "] %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
