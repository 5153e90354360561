"""`manage.py check --deploy` is clean with production settings, and flags a development setup."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys

from sitectl import ROOT

PRODUCTION = {
    "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(64), "SECURE_SSL_REDIRECT": "1", "SECURE_COOKIES": "1",
    "SECURE_HSTS_SECONDS": "31536000", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1", "SECURE_HSTS_PRELOAD": "1",
    "ALLOWED_HOSTS": "alpha.atlassian.net",
}


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST", "SECURE_"))}
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--tag", "security",
                           "--fail-level", "WARNING"], env={**base, **env}, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_production_settings_pass_the_deploy_check() -> None:
    r = _check(PRODUCTION)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


def test_development_defaults_are_flagged() -> None:
    r = _check({"DEBUG": "1"})
    assert r.returncode != 0
    assert "security.W018" in r.stderr + r.stdout  # DEBUG on
