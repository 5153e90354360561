"""docker-compose.yml agrees with the settings and the entrypoint (no Docker engine runs here)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from invitations.directory import SiteDirectory

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SITES = ("alpha", "beta")
SHARED = ("DATABASE_URL", "REDIS_URL", "SITE_NAME", "SITE_ADDRESS", "SITE_DIRECTORY", "SECRET_KEY")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _names_read_by_settings() -> set[str]:
    text = (ROOT / "issuesync" / "settings.py").read_text()
    names = set(re.findall(r'(?:os\.getenv|os\.environ\.get|env\w+)\(\s*f?"([A-Z_][A-Z0-9_]*)"', text))
    names |= {f"{n}_FILE" for n in re.findall(r'envsecret\(\s*"([A-Z_]+)"', text)}
    return names


def _names_read_by_entrypoint() -> set[str]:
    script = (ROOT / "bin" / "site").read_text()
    local = set(re.findall(r"^\s*([A-Z_][A-Z0-9_]*)=", script, re.M))  # the script's own variables
    return set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", script)) - local


def _entrypoint_roles() -> set[str]:
    return set(re.findall(r"^\s*([a-z]+)\)\s*$", (ROOT / "bin" / "site").read_text(), re.M))


def _app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in _services(compose).items() if n.split("-", 1)[0] in SITES and "command" in s}


def test_it_reads_the_settings_it_checks_against() -> None:
    # Guards the greps below: were they to find nothing, every other test here would pass vacuously.
    assert {"SITE_NAME", "SITE_DIRECTORY", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= _names_read_by_settings()
    assert {"BIND", "WEB_CONCURRENCY"} <= _names_read_by_entrypoint()
    assert {"prepare", "web", "worker", "beat"} <= _entrypoint_roles()


def test_each_site_has_web_worker_beat_and_prepare(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for site in SITES:
        for role in ("prepare", "web", "worker", "beat"):
            assert f"{site}-{role}" in services
    assert "redis" in services
    assert any("postgres" in str(s.get("image", "")) for s in services.values())


def test_every_process_goes_through_the_entrypoint_with_a_role_it_has(compose: dict[str, Any]) -> None:
    roles = _entrypoint_roles()
    for name, service in _app_services(compose).items():
        command = service["command"]
        assert command[0] == "bin/site", name
        assert command[1] in roles, name
        assert command[1] == name.split("-", 1)[1], f"{name} runs {command[1]}"


def test_every_environment_name_is_one_the_site_reads(compose: dict[str, Any]) -> None:
    known = _names_read_by_settings() | _names_read_by_entrypoint()
    for name, service in _app_services(compose).items():
        unknown = set(_env(service)) - known
        assert not unknown, f"{name} sets {unknown}, which nothing reads"


def test_a_sites_processes_share_database_broker_and_identity(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for site in SITES:
        envs = [_env(services[f"{site}-{role}"]) for role in ("prepare", "web", "worker", "beat")]
        for key in SHARED:
            assert len({e.get(key) for e in envs}) == 1, f"{site}: {key} differs between its processes"
        assert envs[0]["SITE_NAME"] == site
        assert envs[0]["DATABASE_URL"].startswith("postgres://")
    alpha, beta = (_env(services[f"{s}-web"]) for s in SITES)
    assert alpha["DATABASE_URL"] != beta["DATABASE_URL"], "each site has its own database"
    assert alpha["SECRET_KEY"] != beta["SECRET_KEY"]


def test_the_sites_publish_8001_and_8002_and_the_workers_scale(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert services["alpha-web"]["ports"] == ["8001:8000"]
    assert services["beta-web"]["ports"] == ["8002:8000"]
    for name, service in _app_services(compose).items():
        assert "container_name" not in service, f"{name} could not scale"
        if not name.endswith("-web"):
            assert "ports" not in service, f"{name} could not scale"


def test_the_directory_points_at_web_services_that_exist(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for site in SITES:
        env = _env(services[f"{site}-web"])
        directory = SiteDirectory.from_setting(env["SITE_DIRECTORY"])
        assert set(directory.entries) == {f"{s}.atlassian.net" for s in SITES}
        for address, base in directory.entries.items():
            parts = urlsplit(base)
            assert parts.hostname == f"{address.split('.')[0]}-web"
            assert parts.hostname in services
            bind_port = _env(services[str(parts.hostname)]).get("BIND", "0.0.0.0:8000").rsplit(":", 1)[1]
            assert parts.port == int(bind_port)


def test_everything_waits_for_prepare_and_the_web_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for site in SITES:
        for role in ("web", "worker", "beat"):
            depends = services[f"{site}-{role}"]["depends_on"]
            assert depends[f"{site}-prepare"] == {"condition": "service_completed_successfully"}
        assert "/healthz" in " ".join(services[f"{site}-web"]["healthcheck"]["test"])


def test_the_image_runs_as_an_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "pip install ." in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_readme_documents_every_variable_and_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme.startswith("## Quick start")
    quick_start = readme.split("```sh", 1)[1].split("```", 1)[0].split()
    assert quick_start == ["make", "demo", "make", "test"]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    missing = (_names_read_by_settings() | _names_read_by_entrypoint()) - documented
    assert not missing, f"README.md does not document {missing}"


def test_every_picture_and_document_the_readme_links_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = re.findall(r"\]\(((?:docs|bench)/[^)#]+)\)", readme)
    assert any(p.endswith(".png") for p in linked)
    missing = [p for p in linked if not (ROOT / p).is_file()]
    assert not missing, f"README.md links missing files: {missing}"
