"""docker-compose.ci.yml, checked without Docker (none on these machines): the Compose
schema, health checks and dependencies, pinned images, and no secret in the file."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
import yaml

from tests.ci.cihelpers import REPO, run, tool

COMPOSE = REPO / "docker-compose.ci.yml"
DOCKERFILE = REPO / "docker" / "airflow" / "Dockerfile"
AIRFLOW_SERVICES = (
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|_KEY$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _airflow_pin() -> str:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("apache-airflow==")]
    assert len(pins) == 1
    return pins[0].split("==")[1]


def test_matches_the_compose_specification() -> None:
    result = run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_services(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "sqlserver", "loader", "airflow-init", *AIRFLOW_SERVICES}


def test_every_service_is_health_checked_or_waits_for_a_healthy_one(
    services: dict[str, Any],
) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        waits_healthy = any(d.get("condition") == "service_healthy" for d in depends.values())
        assert "healthcheck" in service or waits_healthy, name
        for dependency, spec in depends.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if "healthcheck" not in services[dependency]:
                # A one-shot (loader, migrations) must have finished, successfully.
                assert spec["condition"] == "service_completed_successfully", (name, dependency)


def test_sqlserver_health_check_uses_sqlcmd_without_the_password_in_the_file(
    services: dict[str, Any],
) -> None:
    sqlserver = services["sqlserver"]
    assert sqlserver["environment"]["ACCEPT_EULA"] == "Y"
    test = sqlserver["healthcheck"]["test"]
    assert test.startswith("/opt/mssql-tools18/bin/sqlcmd -S localhost -U sa -P")
    assert '"$$MSSQL_SA_PASSWORD"' in test and " -C " in test and '"SELECT 1"' in test


def test_images_are_pinned_by_tag(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag, f"{name}: {image} has no tag"
        assert "latest" not in tag, f"{name}: {image} is a moving tag"
    base = re.search(r"^FROM (\S+)$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert base and base.group(1) == f"apache/airflow:{_airflow_pin()}-python3.11"


def test_airflow_components_share_one_configuration(services: dict[str, Any]) -> None:
    envs = [services[name]["environment"] for name in (*AIRFLOW_SERVICES, "airflow-init")]
    assert all(env == envs[0] for env in envs)
    env = envs[0]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "medallion.executors.LocalExecutor"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/medallion/airflow/dags"
    assert env["MEDALLION_TARGET"] == "sqlserver"
    assert env["MEDALLION_MSSQL_HOST"] == "sqlserver"
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-api-server": ["api-server"],
        "airflow-scheduler": ["scheduler"],
        "airflow-dag-processor": ["dag-processor"],
        "airflow-triggerer": ["triggerer"],
    }
    for name in (*AIRFLOW_SERVICES, "loader"):
        assert ".:/opt/medallion" in services[name]["volumes"], name


def test_loader_creates_the_database_and_loads_after_sqlserver_is_healthy(
    services: dict[str, Any],
) -> None:
    loader = services["loader"]
    assert loader["restart"] == "no"
    assert loader["depends_on"]["sqlserver"]["condition"] == "service_healthy"
    script = " ".join(loader["command"])
    assert "CREATE DATABASE" in script and "medallion load" in script
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["loader"]["condition"] == (
            "service_completed_successfully"
        )


def test_no_secret_is_written_in_the_file(services: dict[str, Any]) -> None:
    checked = 0
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                checked += 1
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", str(value)), f"{name}: {key}"
            elif "://" in str(value) and "@" in str(value):
                assert re.search(r":\$\{[A-Z_]+:\?[^}]*\}@", str(value)), f"{name}: {key}"
    assert checked >= 5
    text = COMPOSE.read_text(encoding="utf-8")
    assert "password:" not in text.lower().replace("_password:", "")


def test_ports_are_published_on_loopback_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_compose_env_script_makes_every_required_variable() -> None:
    lines = COMPOSE.read_text(encoding="utf-8").splitlines()
    code = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    required = set(re.findall(r"\$\{([A-Z_]+):\?", code))
    result = run(["bash", "scripts/compose_env.sh"])
    assert result.returncode == 0, result.stderr
    made = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert required <= set(made), required - set(made)
    assert all(len(made[name]) >= 32 for name in required)
    again = dict(
        line.split("=", 1) for line in run(["bash", "scripts/compose_env.sh"]).stdout.splitlines()
    )
    assert all(made[name] != again[name] for name in required)  # fresh each time
