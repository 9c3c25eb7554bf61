"""Hand-built stacks for renderer tests, independent of detection (which has its own tests).

Each mirrors an app in examples/ so renderer tests and golden tests see realistic plans.
"""

from __future__ import annotations

from deploysmith.model import Component, Evidence, Plan, Requirements, Stack
from deploysmith.plan import build_plan

E = Evidence("x", 1, "x")


def _stack(name: str, *components: Component) -> Stack:
    return Stack(root=f"/work/{name}", components=components, git_remote=f"github.com/acme/{name}")


STACKS: dict[str, Stack] = {
    "fastapi-postgres": _stack(
        "fastapi-postgres",
        Component(
            name="fastapi-postgres", path=".", kind="web", language="python", language_version="3.12",
            framework="fastapi", package_manager="uv",
            start_command="uvicorn app.main:app --host 0.0.0.0 --port 8000", port=8000,
            test_command="pytest", lint_command="ruff check .", services=("postgres",),
            health_path="/health", migration_tool="alembic", migrate_command="alembic upgrade head",
            dependency_files=("pyproject.toml", "uv.lock"),
        ),
    ),
    "django-celery": _stack(
        "django-celery",
        Component(
            name="django-celery", path=".", kind="web", language="python", language_version="3.12",
            framework="django", package_manager="pip",
            start_command="gunicorn shop.wsgi:application --bind 0.0.0.0:8000", port=8000,
            test_command="pytest", lint_command="ruff check .", services=("postgres", "redis"),
            health_path="/healthz/", migration_tool="django",
            migrate_command="python manage.py migrate --noinput",
            dependency_files=("requirements.txt",),
        ),
        Component(
            name="django-celery-worker", path=".", kind="worker", language="python",
            language_version="3.12", framework="celery", package_manager="pip",
            start_command="celery -A shop worker --loglevel=INFO", services=("postgres", "redis"),
            dependency_files=("requirements.txt",),
        ),
    ),
    "express": _stack(
        "express",
        Component(
            name="express", path=".", kind="web", language="javascript", language_version="22",
            framework="express", package_manager="npm", start_command="node src/server.js", port=3000,
            test_command="npm test", health_path="/healthz",
            dependency_files=("package.json", "package-lock.json"),
        ),
    ),
    "nextjs": _stack(
        "nextjs",
        Component(
            name="nextjs", path=".", kind="web", language="typescript", language_version="22",
            framework="nextjs", package_manager="pnpm", start_command="node server.js", port=3000,
            test_command=None, lint_command="pnpm run lint", build_command="pnpm run build",
            build_output=".next/standalone", health_path="/api/health",
            dependency_files=("package.json", "pnpm-lock.yaml"),
        ),
    ),
    "go-api": _stack(
        "go-api",
        Component(
            name="api", path=".", kind="web", language="go", language_version="1.24", framework="net/http",
            package_manager="go", start_command="/app/api", port=8080, test_command="go test ./...",
            lint_command="go vet ./...", build_command="go build -o /app/api ./cmd/api",
            build_target="./cmd/api", health_path="/healthz", dependency_files=("go.mod",),
        ),
        Component(
            name="worker", path=".", kind="worker", language="go", language_version="1.24",
            package_manager="go", start_command="/app/worker", test_command="go test ./...",
            build_command="go build -o /app/worker ./cmd/worker", build_target="./cmd/worker",
            dependency_files=("go.mod",),
        ),
    ),
    "spring-boot-maven": _stack(
        "spring-boot-maven",
        Component(
            name="spring-boot-maven", path=".", kind="web", language="java", language_version="21",
            framework="spring-boot", package_manager="maven", start_command="java -jar /app/app.jar",
            port=8080, test_command="mvn -B test", build_command="mvn -B package -DskipTests",
            build_output="target/*.jar", services=("postgres",), health_path="/actuator/health",
            migration_tool="flyway", dependency_files=("pom.xml",),
        ),
    ),
    "monorepo": _stack(
        "monorepo",
        Component(
            name="api", path="services/api", kind="web", language="python", language_version="3.13",
            framework="fastapi", package_manager="poetry",
            start_command="uvicorn api.main:app --host 0.0.0.0 --port 8000", port=8000,
            test_command="pytest", services=("postgres",), health_path="/healthz",
            dependency_files=("pyproject.toml", "poetry.lock"),
        ),
        Component(
            name="web", path="apps/web", kind="static", language="typescript", language_version="24",
            framework="vite", package_manager="npm", build_command="npm run build", build_output="dist",
            test_command="npm test", dependency_files=("package.json", "package-lock.json"),
        ),
    ),
}


def sample_plan(name: str, **requirements: object) -> Plan:
    return build_plan(STACKS[name], Requirements(**requirements))  # type: ignore[arg-type]
