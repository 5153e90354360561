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
    shell = {"PPID"}  # set by the shell itself, not by whoever starts the site
    return set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", script)) - local - shell


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


# --- compose.site.yml: one site per stack -------------------------------------------------------

SITE_COMPOSE = ROOT / "compose.site.yml"
SITES_ENV = ROOT / "sites.env"
SITE_ROLES = ("prepare", "web", "worker", "beat")


@pytest.fixture(scope="module")
def site_compose() -> dict[str, Any]:
    return dict(yaml.safe_load(SITE_COMPOSE.read_text()))


def _directory_lines(text: str) -> list[str]:
    """Every SITE_DIRECTORY=... line of a text, commented or not."""
    return re.findall(r"^[#\s]*SITE_DIRECTORY=(\S+)", text, re.M)


def _resolved(site: str, port: int) -> dict[str, Any]:
    result = subprocess.run(["docker-compose", "-p", site, "-f", str(SITE_COMPOSE), "config"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "SITE_NAME": site, "SITE_PORT": str(port)})
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


def test_a_site_stack_has_its_own_database_and_broker_and_runs_every_role_through_the_entrypoint(
    site_compose: dict[str, Any],
) -> None:
    services = _services(site_compose)
    assert set(services) == {"db", "redis", *SITE_ROLES}
    assert "postgres" in services["db"]["image"] and "redis" in services["redis"]["image"]
    roles = _entrypoint_roles()
    for role in SITE_ROLES:
        service = services[role]
        assert service["command"] == ["bin/site", role] and role in roles
        # The same image as docker-compose.yml's services: one Dockerfile, one entrypoint.
        assert service["image"] == _services(yaml.safe_load(COMPOSE.read_text()))["alpha-web"]["image"]
        assert service["build"] == "."
        env = _env(service)
        assert urlsplit(env["DATABASE_URL"]).hostname == "db"
        assert urlsplit(env["REDIS_URL"]).hostname == "redis"
        assert env["SITE_NAME"].startswith("${SITE_NAME:?")
        # The directory comes from the env file, never from the file itself (that would win over it).
        assert "SITE_DIRECTORY" not in env
        assert service["env_file"] == "${SITES_ENV_FILE:-sites.env}"
        assert "container_name" not in service
        unknown = set(env) - (_names_read_by_settings() | _names_read_by_entrypoint())
        assert not unknown, f"{role} sets {unknown}, which nothing reads"
    assert [k for k, s in services.items() if "ports" in s] == ["web"]
    assert services["web"]["ports"] == ["${SITE_PORT:?set SITE_PORT (8001, 8002...)}:8000"]


def test_a_site_reaches_its_partner_on_the_shared_network_or_the_hosts_ports(site_compose: dict[str, Any]) -> None:
    services = _services(site_compose)
    for role in ("web", "worker"):  # the web discovers the partner when inviting; the worker delivers
        assert "sites" in services[role]["networks"]
        assert services[role]["extra_hosts"] == ["host.docker.internal:host-gateway"]
    assert services["web"]["networks"]["sites"] == {"aliases": ["${SITE_NAME}-web"]}
    assert site_compose["networks"]["sites"] == {"external": True, "name": "${SITES_NETWORK:-issuesync-sites}"}


def test_every_directory_line_of_the_env_file_and_the_readme_names_both_sites() -> None:
    lines = _directory_lines(SITES_ENV.read_text()) + _directory_lines((ROOT / "README.md").read_text())
    assert len(lines) >= 6, lines  # three ways, in the env file and in the README
    hosts = set()
    for line in lines:
        directory = SiteDirectory.from_setting(line)
        assert set(directory.entries) == {f"{s}.atlassian.net" for s in SITES}, line
        hosts |= {urlsplit(base).hostname for base in directory.entries.values()}
    assert {"alpha-web", "beta-web", "host.docker.internal"} <= hosts
    # The line in force is the shared network's: web and its alias on port 8000 (BIND).
    (active,) = re.findall(r"^SITE_DIRECTORY=(\S+)", SITES_ENV.read_text(), re.M)
    assert SiteDirectory.from_setting(active).entries["beta.atlassian.net"] == "http://beta-web:8000"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
@pytest.mark.parametrize(("site", "port"), [("alpha", 8001), ("beta", 8002)])
def test_docker_compose_resolves_each_site_stack(site: str, port: int) -> None:
    resolved = _services(_resolved(site, port))
    web = resolved["web"]
    assert web["networks"]["sites"]["aliases"] == [f"{site}-web"]
    assert web["ports"][0]["published"] in (port, str(port))
    for role in SITE_ROLES:
        env = resolved[role]["environment"]
        assert env["SITE_NAME"] == site and env["SITE_ADDRESS"] == f"https://{site}.atlassian.net"
        assert site in env["SECRET_KEY"]  # each stack its own secret
        directory = SiteDirectory.from_setting(env["SITE_DIRECTORY"])  # from sites.env
        assert directory.base_url(f"https://{site}.atlassian.net") == f"http://{site}-web:8000"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_says_what_a_site_stack_is_missing() -> None:
    def config(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker-compose", "-f", str(SITE_COMPOSE), "config", "-q"], capture_output=True,
                              text=True, cwd=ROOT, timeout=60, env={"PATH": "/usr/bin:/bin", **env})

    assert config(SITE_NAME="alpha", SITE_PORT="8001").returncode == 0
    missing_name = config(SITE_PORT="8001")
    assert missing_name.returncode != 0 and "set SITE_NAME" in missing_name.stderr
    missing_port = config(SITE_NAME="alpha")
    assert missing_port.returncode != 0 and "set SITE_PORT" in missing_port.stderr
    no_env_file = config(SITE_NAME="alpha", SITE_PORT="8001", SITES_ENV_FILE="/nonexistent/sites.env")
    assert no_env_file.returncode != 0
