"""Test settings: the real services the product uses in production (PostgreSQL, Redis)."""
from __future__ import annotations

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/issuesync")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("SITE_NAME", "alpha")

from issuesync.settings import *  # noqa: E402,F403

SITE_DIRECTORY = "alpha.atlassian.net=http://127.0.0.1:9,beta.atlassian.net=http://127.0.0.1:9"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

# One test database per test run, so that runs side by side never share or destroy each other's.
DATABASES["default"]["TEST"] = {"NAME": f"test_issuesync_{os.getpid()}"}  # noqa: F405
