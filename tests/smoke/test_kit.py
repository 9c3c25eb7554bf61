"""The kit smoke runs: which files, which settings, the workspace, Dockerfile steps and
cache hits read from build logs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deploysmith.errors import DeploysmithError
from deploysmith.smoke.engine import RunSpec
from deploysmith.smoke.kit import (
    build_steps,
    dependency_cache,
    dependency_steps,
    fake_value,
    instructions,
    load_kit,
    pick_source_file,
    prepare_workspace,
    targets,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FAKE_DATABASE = "postgresql://smoke-fake:not-a-real-password@fake-postgres.invalid:5432/smoke-fake"


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_fastapi_runs_as_the_manifests_say() -> None:
    [target] = targets(load_kit(str(EXAMPLES / "fastapi-postgres")), "dev")

    assert target.run == RunSpec(
        user="10001:10001", read_only=True, tmpfs=("/tmp",),
        env=(("PORT", "8000"), ("APP_ENV", "dev"), ("DATABASE_URL", FAKE_DATABASE)), port=8000,
    )
    assert target.fake_env == ("DATABASE_URL",)
    assert (target.probe.kind, target.probe.path) == ("http", "/health")
    assert (target.dockerfile.path, target.dockerfile.source) == ("Dockerfile", "rendered")
    assert target.dockerignore is not None and target.dockerignore.source == "rendered"


def test_the_overlay_chosen_sets_app_env_and_django_gets_every_secret_faked() -> None:
    [target] = targets(load_kit(str(EXAMPLES / "django-celery")), "staging")

    assert target.run.env == (
        ("PORT", "8000"),
        ("APP_ENV", "staging"),
        ("DATABASE_URL", FAKE_DATABASE),
        ("REDIS_URL", "redis://fake-redis.invalid:6379/0"),
        ("SECRET_KEY", "deploysmith-smoke-fake-secret-key-not-for-use"),
    )
    assert target.workload.component.name == "django-celery"  # the web process, not the worker


def test_the_repositorys_own_dockerfile_and_kustomization_win(tmp_path: Path) -> None:
    repo = tmp_path / "fastapi-postgres"  # the component is named after the directory
    shutil.copytree(EXAMPLES / "fastapi-postgres", repo)
    (repo / "Dockerfile").write_text("FROM python:3.12-slim\nCOPY . .\n", encoding="utf-8")
    kustomization = repo / "deploy/base/fastapi-postgres/kustomization.yaml"
    kustomization.parent.mkdir(parents=True)
    kustomization.write_text(
        "configMapGenerator:\n  - name: fastapi-postgres-config\n"
        "    literals: [PORT=9000, LOG_LEVEL=debug]\n",
        encoding="utf-8",
    )

    [target] = targets(load_kit(str(repo)), "prod")

    assert target.dockerfile.source == "repository"
    assert target.dockerfile.content == "FROM python:3.12-slim\nCOPY . .\n"
    assert target.dockerignore is None  # the repository has none: the rendered one is not mixed in
    assert target.run.env == (
        ("PORT", "9000"), ("LOG_LEVEL", "debug"), ("APP_ENV", "prod"), ("DATABASE_URL", FAKE_DATABASE),
    )


def test_an_unknown_image_is_a_usage_error() -> None:
    expected = r"^--image web: no such image in the plan \(images: fastapi-postgres\)$"
    with pytest.raises(DeploysmithError, match=expected):
        targets(load_kit(str(EXAMPLES / "fastapi-postgres")), "dev", ["web"])


def test_fake_values_are_visibly_fake() -> None:
    assert fake_value("DATABASE_URL", ("redis", "mysql")) == (
        "mysql://smoke-fake:not-a-real-password@fake-mysql.invalid:3306/smoke-fake"
    )
    assert fake_value("APP_KEY") == "base64:ZGVwbG95c21pdGgtc21va2UtZmFrZS1rZXktMzJieXQ="
    assert fake_value("STRIPE_API_KEY") == "deploysmith-smoke-fake-stripe-api-key"


def test_the_workspace_is_a_copy_with_the_rendered_files_and_the_repo_is_untouched(tmp_path: Path) -> None:
    repo = tmp_path / "app"
    shutil.copytree(EXAMPLES / "fastapi-postgres", repo)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    before = snapshot(repo)
    kit = load_kit(str(repo))

    workspace = prepare_workspace(kit, targets(kit, "dev"), tmp_path / "ws")

    assert snapshot(repo) == before
    assert not (workspace / ".git").exists()
    assert (workspace / "Dockerfile").read_text() == kit.rendered["Dockerfile"].content
    assert (workspace / ".dockerignore").read_text() == kit.rendered[".dockerignore"].content
    assert (workspace / "app" / "main.py").read_bytes() == (repo / "app" / "main.py").read_bytes()


@pytest.mark.parametrize(("example", "expected"), [
    ("fastapi-postgres", "app/main.py"),
    ("django-celery", "manage.py"),
    ("express", "src/app.js"),
    ("go-api", "cmd/api/main.go"),
])
def test_the_source_file_changed_for_the_rebuild_is_the_apps_code(example: str, expected: str) -> None:
    kit = load_kit(str(EXAMPLES / example))
    target = targets(kit, "dev")[0]

    assert pick_source_file(EXAMPLES / example, target) == expected


def test_dependency_steps_of_the_rendered_python_dockerfile() -> None:
    [target] = targets(load_kit(str(EXAMPLES / "fastapi-postgres")), "dev")

    assert dependency_steps(target.dockerfile.content) == (
        "COPY requirements.txt requirements-dev.txt ./",
        "RUN --mount=type=cache,target=/root/.cache/pip python -m venv /opt/venv"
        " && pip install -r requirements.txt",
    )


def test_instructions_skip_comments_heredoc_bodies_and_join_continuations() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM nginx AS runtime\n"
        "RUN apt-get update \\\n"
        "    # a comment inside the continuation\n"
        "    && apt-get install -y curl\n"
        "COPY <<'EOF' /etc/nginx/nginx.conf\n"
        "RUN this is not an instruction\n"
        "EOF\n"
        "\n"
        "COPY . .\n"
    )
    assert [(i.keyword, i.text) for i in instructions(text)] == [
        ("FROM", "FROM nginx AS runtime"),
        ("RUN", "RUN apt-get update && apt-get install -y curl"),
        ("COPY", "COPY <<'EOF' /etc/nginx/nginx.conf"),
        ("COPY", "COPY . ."),
    ]
    assert dependency_steps(text) == (
        "RUN apt-get update && apt-get install -y curl", "COPY <<'EOF' /etc/nginx/nginx.conf",
    )


def test_no_whole_context_copy_means_no_dependency_steps() -> None:
    assert dependency_steps("FROM a\nCOPY --from=build /app /app\nRUN make\n") == ()


DOCKERFILE = """FROM python AS deps
WORKDIR /app
COPY requirements.txt ./
RUN --mount=type=cache,target=/root/.cache/pip \\
    pip install -r requirements.txt
FROM deps AS build
COPY . .
"""

PODMAN_LOG = """[1/2] STEP 1/4: FROM python AS deps
[1/2] STEP 2/4: WORKDIR /app
--> Using cache 4fa9bd0216a1b343e651b42b1ee7781229b31a398fd77888ba791eb13b820f22
--> 4fa9bd0216a
[1/2] STEP 3/4: COPY requirements.txt ./
--> Using cache b06c5b5791510966c17b904b961e58feffc1fec19173d23af3ac04e2943990f7
--> b06c5b57915
[1/2] STEP 4/4: RUN --mount=type=cache,target=/root/.cache/pip     pip install -r requirements.txt
--> Using cache e8ea41b48bd7a68b67c543923eeaa6a910b8b570142d28d953ea914188374cf4
--> e8ea41b48bd
[2/2] STEP 1/2: FROM e8ea41b48bd7a68b67c543923eeaa6a910b8b570142d28d953ea914188374cf4 AS build
[2/2] STEP 2/2: COPY . .
--> 16ebdd3f989
"""

BUILDKIT_LOG = """#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#5 [deps 1/3] FROM docker.io/library/python
#6 [deps 2/3] COPY requirements.txt ./
#6 CACHED
#7 [deps 3/3] RUN --mount=type=cache,target=/root/.cache/pip     pip install -r requirements.txt
#7 0.512 Collecting fastapi
#8 [build 1/1] COPY . .
#8 DONE 0.1s
"""

CLASSIC_LOG = """Step 3/5 : COPY requirements.txt ./
 ---> Using cache
 ---> 1a2b3c
Step 4/5 : RUN pip install -r requirements.txt
 ---> Running in 9f8e7d
"""


def test_podman_log_steps_and_cache_hits() -> None:
    steps = build_steps(PODMAN_LOG)

    assert [(s.text, s.cached) for s in steps] == [
        ("FROM python AS deps", False),
        ("WORKDIR /app", True),
        ("COPY requirements.txt ./", True),
        ("RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt", True),
        ("FROM e8ea41b48bd7a68b67c543923eeaa6a910b8b570142d28d953ea914188374cf4 AS build", False),
        ("COPY . .", False),
    ]
    assert dependency_cache(DOCKERFILE, PODMAN_LOG) == (2, 2)


def test_buildkit_log_steps_and_cache_hits() -> None:
    assert [(s.text, s.cached) for s in build_steps(BUILDKIT_LOG)] == [
        ("FROM docker.io/library/python", False),
        ("COPY requirements.txt ./", True),
        ("RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt", False),
        ("COPY . .", False),
    ]
    assert dependency_cache(DOCKERFILE, BUILDKIT_LOG) == (1, 2)


def test_classic_docker_log_steps_and_cache_hits() -> None:
    assert [(s.text, s.cached) for s in build_steps(CLASSIC_LOG)] == [
        ("COPY requirements.txt ./", True),
        ("RUN pip install -r requirements.txt", False),
    ]
