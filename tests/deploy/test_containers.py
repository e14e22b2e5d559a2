"""The Dockerfile and docker-compose.yml, checked without a Docker engine (none runs here):
hadolint lints the Dockerfile, check-jsonschema validates the compose file against the
compose-spec schema, and the tests below check what neither knows about Herald: the stages,
the user, the health check's path, the COPY list, the services and their settings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from herald.app import AppState, create_app
from herald.settings import Settings
from tests.support.settings_vars import ROOT, setting_names

BIN = Path(sys.executable).parent
SOURCES = ("herald", "gql", "jobs", "models", "metrics", "tools", "migrations", "web")
SECRETS = ("POSTGRES_PASSWORD", "API_ADMIN_TOKEN", "PROBE_TOKEN", "SMTP_PASSWORD")


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is a dev dependency (pyproject.toml)"
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_hadolint_passes() -> None:
    result = run(tool("hadolint"), str(ROOT / "Dockerfile"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install gcc\n")
    assert run(tool("hadolint"), str(bad)).returncode != 0


def compose_check(path: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))


def test_compose_file_matches_the_compose_spec(tmp_path: Path) -> None:
    result = compose_check(ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "docker-compose.yml"
    text = (ROOT / "docker-compose.yml").read_text()
    broken.write_text(text.replace("condition: service_healthy", "condition: healthy", 1))
    assert compose_check(broken).returncode != 0  # the check can fail


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined) per stage."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    result: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


def test_dockerfile_stages() -> None:
    *builders, final = stages()
    assert len(builders) >= 2  # node assets, Python dependencies
    assert all(" AS " in b[0].upper() for b in builders)
    final_text = "\n".join(final)
    # no build tools in the final image, nothing installed there but the user
    assert not re.search(r"apt-get|apk |gcc|build-essential|npm |pip install", final_text)
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    # the dependency layer comes from pyproject.toml alone, before any source is copied
    deps = next(b for b in builders if any("pip install" in line for line in b))
    copies = [line for line in deps if line.startswith("COPY ")]
    assert copies == ["COPY pyproject.toml ./"]
    venv = final.index(next(line for line in final if "--from=deps" in line))
    first_source = min(final.index(f"COPY {s} {s}") for s in SOURCES if f"COPY {s} {s}" in final)
    assert venv < first_source
    # whole node packages, not picked files
    assert "COPY --from=assets /build/node_modules node_modules" in final


def test_every_source_directory_is_copied() -> None:
    """Each package of the project (and web/, once it exists) is in the image."""
    final = stages()[-1]
    for source in SOURCES:
        if (ROOT / source).is_dir():
            assert f"COPY {source} {source}" in final, f"Dockerfile does not copy {source}/"


def test_healthcheck_is_a_real_liveness_path() -> None:
    final = "\n".join(stages()[-1])
    match = re.search(r"HEALTHCHECK .*?127\.0\.0\.1:%s(/\w+)", final)
    assert match and match.group(1) == "/healthz"
    app = create_app(AppState(settings=Settings.from_env({}), manage_db=False))
    paths = {getattr(r, "path", None) for r in app.app.routes}  # type: ignore[attr-defined]
    assert "/healthz" in paths and "/readyz" in paths


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


HERALD_SERVICES = ("migrate", "api", "worker")


def test_compose_services() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker", "probe-sim"}
    assert services["probe-sim"]["profiles"] == ["sim"]
    assert all("profiles" not in s for n, s in services.items() if n != "probe-sim")
    for name, service in services.items():
        assert service.get("restart") in ("unless-stopped", "on-failure", "always"), name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    # scalable: no fixed name, no published port
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    for name in ("postgres", "redis", "probe-sim"):
        assert services[name]["healthcheck"]["test"], name
    assert "disable" not in services["api"].get("healthcheck", {})  # the image's /healthz
    # migrations once, before the API and the workers, which do not migrate themselves
    assert services["migrate"]["command"] == ["herald", "migrate"]
    for name in ("api", "worker"):
        needs = services[name]["depends_on"]
        assert needs["migrate"] == {"condition": "service_completed_successfully"}
        assert needs["postgres"] == needs["redis"] == {"condition": "service_healthy"}
        assert "--no-migrate" in services[name]["command"]
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_compose_settings_are_real_and_secrets_come_from_the_environment() -> None:
    services = compose()["services"]
    known = setting_names()
    for name in HERALD_SERVICES:
        environment = services[name]["environment"]
        assert set(environment) <= known, set(environment) - known
        for secret in SECRETS[1:]:
            assert re.fullmatch(rf"\$\{{{secret}(:[-?][^}}]*)?\}}", environment[secret]), secret
        assert "${POSTGRES_PASSWORD:?" in environment["DATABASE_URL"]
    postgres = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert postgres.startswith("${POSTGRES_PASSWORD:?")


@pytest.mark.parametrize("line", (ROOT / ".env.example").read_text().splitlines())
def test_env_example_names_only_real_variables(line: str) -> None:
    if line and not line.startswith("#"):
        name = line.split("=", 1)[0]
        assert name in setting_names() | {"POSTGRES_PASSWORD", "HERALD_PORT"}


def test_the_dependency_layer_installs_what_pyproject_lists(tmp_path: Path) -> None:
    """The deps stage's requirements command, run by sh as docker would run it."""
    run_line = next(
        line for line in stages()[1] if "requirements.txt" in line and "tomllib" in line
    )
    command = run_line.removeprefix("RUN ").split(" && ")[0]
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = subprocess.run(
        ["sh", "-c", command.replace("python ", f"{sys.executable} ", 1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert (tmp_path / "requirements.txt").read_text().splitlines() == expected
    assert any(line.startswith("aiosmtplib==") for line in expected)
