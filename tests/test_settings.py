"""The settings a site starts with, read by a process of its own as a site reads them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONNECT = ("import django; django.setup(); from django.db import connection; "
           "connection.ensure_connection(); print(connection.vendor)")


def _vendor(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "issuesync.settings"}
    return subprocess.run([sys.executable, "-c", CONNECT], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_a_sqlite_database_url_connects_without_postgresqls_options(tmp_path: Path) -> None:
    r = _vendor(f"sqlite:///{tmp_path}/site.sqlite3")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "sqlite"


def test_a_postgresql_database_url_connects() -> None:
    r = _vendor("postgres://postgres@127.0.0.1:5432/postgres")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "postgresql"
