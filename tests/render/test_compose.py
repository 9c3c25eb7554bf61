"""compose.yaml: golden files for every sample plan and the extra stacks, the Compose
specification's JSON schema (check-jsonschema, vendor.compose-spec), and unit checks on
the services, dependencies, ports, environment and dev setups it promises.

Regenerate the golden files with `DEPLOYSMITH_UPDATE_GOLDEN=1 pytest tests/render/test_compose.py`.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from deploysmith.render import compose, dockerfile
from deploysmith.render.compose import BACKING
from tests.render.test_dockerfile import CASES, assert_recorded, plan_for, recorded_tags

GOLDEN = Path(__file__).parent / "golden" / "compose"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"


@functools.cache
def text(case: str) -> str:
    (rendered,) = compose.render(plan_for(case))
    assert rendered.path == "compose.yaml"
    return rendered.content


def data(case: str) -> dict[str, Any]:
    loaded = yaml.safe_load(text(case))
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    path = GOLDEN / f"{case}.yaml"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text(case))
    assert path.exists(), "set DEPLOYSMITH_UPDATE_GOLDEN=1 to regenerate"
    assert text(case) == path.read_text(), f"{case}: compose.yaml differs from its golden file"


def test_golden_folder_has_no_strays() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == sorted(CASES)


def test_render_is_deterministic() -> None:
    for case in CASES:
        assert compose.render(plan_for(case)) == compose.render(plan_for(case))


@pytest.mark.judges
def test_compose_spec_schema(tmp_path: Path) -> None:
    if shutil.which("check-jsonschema") is None:
        pytest.skip("check-jsonschema is not installed")
    paths = []
    for case in CASES:
        path = tmp_path / f"{case}.compose.yaml"
        path.write_text(text(case))
        paths.append(str(path))
    result = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.compose-spec", *paths],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", CASES)
def test_services(case: str) -> None:
    plan = plan_for(case)
    compose_data = data(case)
    services = compose_data["services"]
    assert compose_data["name"] == plan.app_name
    rendered = {f.path: f.content for f in dockerfile.render(plan)}
    host_ports: list[str] = []
    for workload in plan.workloads:
        component = workload.component
        service = services[component.name]
        image = next(i for i in plan.images if i.name == workload.image)
        build = service["build"]
        # The build points at the image's Dockerfile and at one of its stages.
        context = "." if image.context in ("", ".") else image.context
        assert build["context"] == context
        assert (
            build["dockerfile"] if context == "." else f"{context}/{build['dockerfile']}"
        ) == image.dockerfile
        assert f" AS {build['target']}\n" in rendered[image.dockerfile]
        if component.kind == "worker":
            assert "ports" not in service
            if image.components[0] == component.name:  # its own image says HEALTHCHECK NONE
                assert "healthcheck" not in service
                assert "\nHEALTHCHECK NONE\n" in rendered[image.dockerfile]
            else:  # the web image's HEALTHCHECK probes a port the worker does not serve
                assert service["healthcheck"] == {"disable": True}
            if component.start_command:
                assert service["command"][0] in component.start_command
        elif workload.container_port:
            (mapping,) = service["ports"]
            assert mapping.startswith("127.0.0.1:")
            host_ports.append(mapping.split(":")[1])
        # Backing services: healthy before the app starts; the app's env points at them.
        for name in component.services:
            if name in BACKING:
                assert service["depends_on"][name] == {"condition": "service_healthy"}
        for name in service.get("depends_on", {}):
            assert name in services
        for name, value in service.get("environment", {}).items():
            assert isinstance(value, str) and value
            if "://" in value:
                host = urlsplit(value.removeprefix("jdbc:")).hostname
                assert host in services, f"{name} points at {host}, which is not a service"
        for name in workload.secret_env:
            if name in service.get("environment", {}):
                continue
            image_services = {
                s for w in plan.workloads if w.image == workload.image for s in w.component.services
            }
            assert image_services - set(BACKING), f"{name} has no local value"
        if workload.migrate_command:
            (migrate,) = [n for n in services if n.endswith("migrate")]
            assert service["depends_on"][migrate] == {"condition": "service_completed_successfully"}
            assert services[migrate]["command"] and services[migrate]["restart"] == "no"
        assert service["init"] is True
        assert service["develop"]["watch"]
    assert len(host_ports) == len(set(host_ports)), "two services publish the same host port"


@pytest.mark.parametrize("case", CASES)
def test_backing_services(case: str) -> None:
    compose_data = data(case)
    services = compose_data["services"]
    tags = recorded_tags()
    for name, spec in BACKING.items():
        if name not in services:
            continue
        service = services[name]
        assert service["image"] == spec.image
        assert_recorded(spec.image, tags)
        assert service["healthcheck"]["test"][0] == "CMD"
        (volume,) = service["volumes"]
        assert volume == f"{name}-data:{spec.data}"
        assert f"{name}-data" in compose_data["volumes"]


def test_backing_images_are_pinned_official_tags() -> None:
    tags = recorded_tags()
    for spec in BACKING.values():
        assert_recorded(spec.image, tags)
    assert BACKING["postgres"].data == "/var/lib/postgresql"  # PGDATA moved under it in 18


def test_python_dev_reloads_from_a_read_only_bind_mount() -> None:
    service = data("fastapi-postgres")["services"]["fastapi-postgres"]
    assert service["command"][-1] == "--reload"
    assert service["build"]["target"] == "runtime"
    assert service["volumes"] == [{"type": "bind", "source": ".", "target": "/app", "read_only": True}]
    assert service["read_only"] is True and service["tmpfs"] == ["/tmp"]
    assert {"path": "uv.lock", "action": "rebuild"} in service["develop"]["watch"]
    migrate = data("fastapi-postgres")["services"]["migrate"]
    assert migrate["command"] == ["alembic", "upgrade", "head"]


def test_node_dev_syncs_into_the_build_stage() -> None:
    service = data("nextjs")["services"]["nextjs"]
    assert service["build"]["target"] == "build"
    assert service["command"][:2] == ["node_modules/.bin/next", "dev"]
    sync = [w for w in service["develop"]["watch"] if w["action"] == "sync"]
    assert sync == [{"path": ".", "action": "sync", "target": "/app", "ignore": ["node_modules/"]}]
    express = data("express")["services"]["express"]
    assert express["command"] == ["node", "--watch", "src/server.js"]


def test_monorepo_contexts_and_vite_dev_server() -> None:
    services = data("monorepo")["services"]
    assert services["web"]["build"] == {"context": "apps/web", "dockerfile": "Dockerfile", "target": "build"}
    assert services["web"]["ports"] == ["127.0.0.1:5173:5173"]
    assert services["api"]["volumes"][0]["source"] == "./services/api"
    assert services["api"]["environment"] == {"DATABASE_URL": "postgresql://app:app@postgres:5432/app"}


def test_compiled_stacks_rebuild_on_change() -> None:
    services = data("go-api")["services"]
    assert services["api"]["develop"]["watch"] == [{"path": ".", "action": "rebuild"}]
    assert services["worker"]["command"] == ["/app/worker"]
    assert "ports" not in services["worker"]


def test_framework_settings_and_unknown_services() -> None:
    spring = data("spring-boot-maven")["services"]["spring-boot-maven"]["environment"]
    assert spring["SPRING_DATASOURCE_URL"] == "jdbc:postgresql://postgres:5432/app"
    laravel = data("php-laravel")["services"]["shop"]
    assert laravel["environment"]["DB_HOST"] == "postgres" and laravel["environment"]["APP_KEY"].startswith(
        "base64:"
    )
    assert "read_only" not in laravel  # Laravel writes storage/ at runtime
    assert "kafka is used by the app but has no verified image" in text("python-pdm")
    assert "kafka" not in data("python-pdm")["services"]
