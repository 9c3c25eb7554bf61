"""Discovery core: candidate folders, strength contests, Procfiles, compose, names,
existing deployment files, CI platform and git remote."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType

import pytest

from deploysmith.detect import DETECTORS, detect_path, parse_remote
from deploysmith.errors import DeploysmithError
from deploysmith.model import Component, Evidence

from .conftest import detect, make_repo, named, only, where

FLASK = {
    "requirements.txt": "flask\ngunicorn\n",
    "app.py": "from flask import Flask\n\napp = Flask(__name__)\n",
}
FASTAPI = {
    "requirements.txt": "fastapi\nuvicorn\n",
    "main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
}


def express(start: str = "node server.js", **deps: str) -> dict[str, str]:
    return {
        "package.json": json.dumps({"scripts": {"start": start}, "dependencies": {"express": "^4", **deps}}),
        "server.js": "app.listen(3000);\n",
    }


def under(folder: str, files: dict[str, str]) -> dict[str, str]:
    return {f"{folder}/{rel}": content for rel, content in files.items()}


# -- registry and inputs ------------------------------------------------------------------


def test_registry_lists_every_ecosystem_in_order() -> None:
    assert list(DETECTORS) == ["python", "node", "go", "jvm", "rust", "ruby", "php", "dotnet", "static"]
    for key, plugin in DETECTORS.items():
        assert isinstance(plugin, ModuleType)
        assert plugin.__name__ == f"deploysmith.detect.{key}"
        assert isinstance(plugin.MARKERS, tuple)
        assert callable(plugin.detect)


def test_empty_directory_has_no_components(tmp_path: Path) -> None:
    stack = detect_path(tmp_path)
    assert stack.components == ()
    assert stack.existing == ()
    assert (stack.ci_platform, stack.git_remote, stack.warnings) == (None, None, ())
    assert stack.root == str(tmp_path.resolve())


def test_missing_path_and_file_path_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(DeploysmithError, match="no such directory"):
        detect_path(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DeploysmithError, match="not a directory"):
        detect_path(tmp_path / "file.txt")


def test_stack_is_json_serialisable(repo_root: Path) -> None:
    stack = detect(repo_root, FLASK)
    assert json.loads(json.dumps(stack.to_json()))["components"][0]["framework"] == "flask"


# -- candidate folders ---------------------------------------------------------------------


def test_test_docs_example_and_hidden_folders_are_not_components(repo_root: Path) -> None:
    files = {
        **under("tests/fixtures/app", FLASK),
        **under("docs", express()),
        **under("examples/demo", FASTAPI),
        **under("e2e", express()),
        **under("testdata/py", FLASK),
        **under(".github/actions/label", express()),
        **under("frontend/__tests__/server", express()),
    }
    assert detect(repo_root, files).components == ()


def test_app_in_a_subfolder_is_named_after_the_folder(repo_root: Path) -> None:
    stack = detect(repo_root, {"README.md": "# shop\n", **under("backend", FLASK)})
    assert (only(stack).name, only(stack).path) == ("backend", "backend")
    assert where(only(stack), "framework") == [("backend/app.py", 3)]


def test_services_folders_monorepo(repo_root: Path) -> None:
    stack = detect(repo_root, {**under("services/api", FASTAPI), **under("services/billing", FLASK)})
    assert [(c.name, c.path, c.framework) for c in stack.components] == [
        ("api", "services/api", "fastapi"),
        ("billing", "services/billing", "flask"),
    ]


def test_npm_workspaces_with_apps_and_libraries(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "package.json": json.dumps(
                {"private": True, "workspaces": ["apps/*", "packages/*"], "devDependencies": {"turbo": "2"}}
            ),
            "package-lock.json": "{}",
            ".nvmrc": "20\n",
            "apps/web/package.json": json.dumps(
                {"scripts": {"build": "next build", "start": "next start"}, "dependencies": {"next": "14"}}
            ),
            **under("apps/api", express()),
            "packages/ui/package.json": json.dumps({"main": "index.js", "scripts": {"build": "tsup"}}),
            "packages/ui/index.js": "export const Button = 1;\n",
        },
    )
    assert [(c.name, c.path, c.framework) for c in stack.components] == [
        ("api", "apps/api", "express"),
        ("web", "apps/web", "nextjs"),
    ]
    web = named(stack, "web")
    assert web.package_manager == "npm"
    assert where(web, "package_manager") == [("package-lock.json", None)]
    assert web.language_version == "20"
    assert where(web, "language_version") == [(".nvmrc", 1)]
    assert web.dependency_files == ("package.json",)


def test_workspace_members_in_example_folders_are_declared(repo_root: Path) -> None:
    files = {
        "pnpm-workspace.yaml": "packages:\n  - 'examples/*'\n  - '!examples/skip'\n",
        "package.json": json.dumps({"private": True}),
        **under("examples/shop", express()),
        **under("examples/skip", express()),
    }
    stack = detect(repo_root, files)
    assert [(c.name, c.path) for c in stack.components] == [("shop", "examples/shop")]


def test_yarn_workspaces_object_form(repo_root: Path) -> None:
    files = {
        "package.json": json.dumps({"private": True, "workspaces": {"packages": ["demo/**"]}}),
        **under("demo/site/api", express()),
    }
    assert [c.path for c in detect(repo_root, files).components] == ["demo/site/api"]


def test_uv_workspace(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "pyproject.toml": (
                '[tool.uv.workspace]\nmembers = ["packages/*"]\nexclude = ["packages/legacy"]\n'
            ),
            "uv.lock": "version = 1\n",
            ".python-version": "3.12\n",
            "packages/api/pyproject.toml": '[project]\nname = "api"\ndependencies = ["fastapi", "uvicorn"]\n',
            "packages/api/api/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
            "packages/shared/pyproject.toml": '[project]\nname = "shared"\ndependencies = []\n',
        },
    )
    api = only(stack)
    assert (api.name, api.path, api.framework, api.package_manager) == (
        "api",
        "packages/api",
        "fastapi",
        "uv",
    )
    assert where(api, "package_manager") == [("uv.lock", None)]
    assert api.start_command == "uvicorn api.main:app --host 0.0.0.0 --port 8000"
    assert api.language_version == "3.12"
    assert api.dependency_files == ("pyproject.toml",)  # the workspace's lock is at its root
    assert stack.warnings == (
        "packages/api: uv sync reads uv.lock, outside packages/api, the folder the image is built from; "
        "the image build cannot see it (the install is not locked)",
    )


def test_compose_build_contexts_and_backing_services(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "docker-compose.yml": """
                services:
                  api:
                    build: ./backend
                    ports:
                      - "8081:9000"
                    depends_on:
                      - db
                  jobs:
                    build:
                      context: ./backend
                      dockerfile: Dockerfile.worker
                    depends_on: [queue]
                  demo:
                    build: ./examples/demo
                  db:
                    image: docker.io/library/postgres:16-alpine
                  queue:
                    image: valkey/valkey:8
                  search:
                    image: opensearchproject/opensearch:2
            """,
            **under("backend", FASTAPI),
            **under("examples/demo", FLASK),
        },
    )
    backend = named(stack, "backend")
    assert backend.services == ("postgres", "redis")
    assert where(backend, "services") == [("docker-compose.yml", 16), ("docker-compose.yml", 18)]
    assert backend.port == 9000
    assert where(backend, "port") == [("docker-compose.yml", 5)]
    assert backend.start_command == "uvicorn main:app --host 0.0.0.0 --port 8000"  # the plugin's own view
    demo = named(stack, "demo")
    assert demo.services == ()  # the file uses depends_on, and demo's names nothing
    assert demo.port == 8000


def test_compose_without_build_gives_its_services_to_the_app_below_it(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "compose.yaml": """
                services:
                  mysql:
                    image: mariadb:11
                  broker:
                    image: "bitnami/rabbitmq:3"
                  stream:
                    image: redpandadata/redpanda
                  mq:
                    image: nats:2
                  files:
                    image: minio/minio
                  cache:
                    image: memcached
                  mongo:
                    image: mongo:7
                  es:
                    image: elasticsearch:8.13.0
            """,
            **FLASK,
        },
    )
    component = only(stack)
    assert component.services == (
        "mysql",
        "rabbitmq",
        "kafka",
        "nats",
        "minio",
        "memcached",
        "mongodb",
        "elasticsearch",
    )
    assert component.evidence["services"][0] == Evidence("compose.yaml", 3, "image: mariadb:11")


def test_malformed_compose_file_is_a_warning(repo_root: Path) -> None:
    stack = detect(repo_root, {"docker-compose.yml": "services: [\n", **FLASK})
    assert only(stack).framework == "flask"
    assert stack.warnings == (
        "docker-compose.yml:2: malformed YAML (expected the node content, but found '<stream end>'); ignored",
    )


# -- strength contests ------------------------------------------------------------------------


def test_django_with_a_lint_only_package_json_stays_django(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "manage.py": 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n',
            "shop/settings.py": "",
            "shop/wsgi.py": "application = get_wsgi_application()\n",
            "requirements.txt": "django\ngunicorn\n",
            "package.json": json.dumps(
                {"scripts": {"lint": "eslint static/"}, "devDependencies": {"eslint": "9", "prettier": "3"}}
            ),
        },
    )
    component = only(stack)
    assert (component.language, component.framework) == ("python", "django")
    assert component.start_command == "gunicorn shop.wsgi:application --bind 0.0.0.0:8000"
    assert stack.warnings == ()


def test_two_apps_in_one_folder_registry_order_wins_with_a_warning(repo_root: Path) -> None:
    stack = detect(repo_root, {**FLASK, **express()})
    assert only(stack).language == "python"
    assert stack.warnings == (
        "the repository root: python and node both detect an application; using python (ignored node)",
    )


def test_stronger_detection_wins_whatever_the_order(repo_root: Path) -> None:
    files = {"pyproject.toml": "[tool.ruff]\nline-length = 100\n", **express()}
    stack = detect(repo_root, files)
    assert only(stack).language == "javascript"
    assert stack.warnings == ()


def test_tooling_only_repository_has_no_components(repo_root: Path) -> None:
    files = {
        "pyproject.toml": "[tool.black]\n",
        "package.json": json.dumps(
            {"devDependencies": {"prettier": "3"}, "scripts": {"format": "prettier -w ."}}
        ),
    }
    assert detect(repo_root, files).components == ()


# -- Procfile ------------------------------------------------------------------------------------


def test_procfile_sets_web_worker_release_and_clock(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            **FLASK,
            "Procfile": (
                "# processes\n"
                "web: gunicorn app:app --bind 0.0.0.0:$PORT --workers 3\n"
                "worker: rq worker high default\n"
                "release: flask db upgrade\n"
                "clock: python clock.py\n"
            ),
        },
    )
    assert [(c.name, c.kind, c.start_command) for c in stack.components] == [
        ("shop", "web", "gunicorn app:app --bind 0.0.0.0:$PORT --workers 3"),
        ("shop-clock", "worker", "python clock.py"),
        ("shop-worker", "worker", "rq worker high default"),
    ]
    web = named(stack, "shop")
    assert web.evidence["start_command"] == (
        Evidence("Procfile", 2, "web: gunicorn app:app --bind 0.0.0.0:$PORT --workers 3"),
    )
    assert web.migrate_command == "flask db upgrade"
    assert where(web, "migrate_command") == [("Procfile", 4)]
    assert web.port == 8000  # $PORT says nothing; the plugin's convention stands
    worker = named(stack, "shop-worker")
    assert (worker.language, worker.package_manager, worker.port, worker.path) == ("python", "pip", None, ".")
    assert where(worker, "start_command") == [("Procfile", 3)]


def test_procfile_package_scripts_run_their_commands(repo_root: Path) -> None:
    scripts = {
        "start": "next start -p 4000",
        "worker": "node worker.js",
        "clock": "node clock.js | tee clock.log",
        "migrate": "prisma migrate deploy",
    }
    files = {
        "package.json": json.dumps({"scripts": scripts, "dependencies": {"next": "14"}}, indent=2),
        "Procfile": "web: npm start\nworker: yarn worker\nclock: npm run clock\nrelease: npm run migrate\n",
    }
    stack = detect(repo_root, files)
    assert [(c.name, c.kind, c.start_command) for c in stack.components] == [
        ("shop", "web", "node_modules/.bin/next start -p 4000"),
        ("shop-clock", "worker", "npm run clock"),  # not one plain command: kept, with a warning
        ("shop-worker", "worker", "node worker.js"),
    ]
    web, clock, worker = stack.components
    assert web.evidence["start_command"] == (
        Evidence("Procfile", 1, "web: npm start"),
        Evidence("package.json", 3, '"start": "next start -p 4000",'),
    )
    assert web.evidence["kind"] == (Evidence("Procfile", 1, "web: npm start"),)
    assert (web.port, where(web, "port")) == (4000, [("Procfile", 1), ("package.json", 3)])
    assert web.migrate_command == "npm run migrate"  # a one-off job: no signal to forward
    assert where(worker, "start_command") == [("Procfile", 2), ("package.json", 4)]
    assert where(clock, "start_command") == [("Procfile", 3)]
    assert stack.warnings == (
        "package.json: scripts.clock (`node clock.js | tee clock.log`) needs a shell (&&, pipes, redirects "
        "or $ expansion); the start command stays `npm run clock`, and npm does not forward SIGTERM to the "
        "app in a container: make the script one plain command (e.g. `node dist/main.js`)",
    )


def test_procfile_port_and_celery_worker_merge(repo_root: Path) -> None:
    files = {
        **FLASK,
        "requirements.txt": "flask\ngunicorn\ncelery\n",
        "tasks.py": "from celery import Celery\napp = Celery()\n",
        "Procfile": "web: gunicorn app:app -b 0.0.0.0:5000\nworker: celery -A tasks worker -c 2\n",
    }
    stack = detect(repo_root, files)
    assert [(c.name, c.start_command) for c in stack.components] == [
        ("shop", "gunicorn app:app -b 0.0.0.0:5000"),
        ("shop-worker", "celery -A tasks worker -c 2"),
    ]
    assert named(stack, "shop").port == 5000
    assert where(named(stack, "shop"), "port") == [("Procfile", 1)]


def test_procfile_only_python_app(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "Procfile": "web: python server.py\n",
            "requirements.txt": "requests\n",
            "server.py": (
                "from http.server import HTTPServer\nHTTPServer(('', 8000), Handler).serve_forever()\n"
            ),
        },
    )
    assert only(stack) == Component(
        name="shop",
        path=".",
        kind="web",
        language="python",
        package_manager="pip",
        start_command="python server.py",
        dependency_files=("requirements.txt",),
        evidence={
            "package_manager": (Evidence("requirements.txt", None, ""),),
            "dependency_files": (Evidence("requirements.txt", None, ""),),
            "kind": (Evidence("Procfile", 1, "web: python server.py"),),
            "start_command": (Evidence("Procfile", 1, "web: python server.py"),),
        },
    )


def test_procfile_worker_only(repo_root: Path) -> None:
    stack = detect(repo_root, {"Procfile": "worker: python consume.py\n", "requirements.txt": "pika\n"})
    component = only(stack)
    assert (component.name, component.kind, component.start_command) == (
        "shop-worker",
        "worker",
        "python consume.py",
    )
    assert component.services == ("rabbitmq",)


def test_procfile_without_a_known_language(repo_root: Path) -> None:
    stack = detect(repo_root, {"Procfile": "web: ./bin/serve --port 7000\n"})
    component = only(stack)
    assert (component.language, component.start_command, component.port) == (
        None,
        "./bin/serve --port 7000",
        7000,
    )


# -- names -------------------------------------------------------------------------------------------


def test_names_are_dns_safe_and_unique(repo_root: Path) -> None:
    long_folder = "A" * 30 + "_Very_Long_Service_Name"
    stack = detect(
        repo_root,
        {
            **under("apps/api", FLASK),
            **under("services/api", FASTAPI),
            **under("My_Service.V2", FLASK),
            **under(long_folder, FLASK),
        },
    )
    names = [c.name for c in stack.components]
    assert sorted(names) == sorted(
        ["api", "services-api", "my-service-v2", ("a" * 30 + "-very-long-se")[:40]]
    )
    for name in names:
        assert len(name) <= 40
        assert name == name.lower() and all(ch.isalnum() or ch == "-" for ch in name)


def test_root_component_is_named_after_the_git_remote(tmp_path: Path) -> None:
    files = {
        **FLASK,
        ".git/config": (
            '[core]\n\tbare = false\n[remote "origin"]\n\turl = git@github.com:acme/Web_Shop.git\n'
        ),
    }
    stack = detect(tmp_path / "checkout", files)
    assert only(stack).name == "web-shop"
    assert stack.git_remote == "github.com/acme/Web_Shop"


def test_root_component_without_remote_uses_the_folder_name(tmp_path: Path) -> None:
    assert only(detect(tmp_path / "My Shop!", FLASK)).name == "my-shop"


def test_components_are_sorted_by_path_then_name(repo_root: Path) -> None:
    stack = detect(repo_root, {**under("b", FLASK), **under("a", FASTAPI), "Procfile": "web: x\nworker: y\n"})
    assert [(c.path, c.name) for c in stack.components] == [
        (".", "shop"),
        (".", "shop-worker"),
        ("a", "a"),
        ("b", "b"),
    ]


# -- existing files, CI, remote -------------------------------------------------------------------


def test_existing_deployment_files(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "Dockerfile": "FROM python\n",
            "backend/Dockerfile.prod": "FROM python\n",
            ".dockerignore": ".git\n",
            "docker-compose.yml": "services: {}\n",
            ".github/workflows/ci.yml": "on: push\n",
            ".gitlab-ci.yml": "test: {script: [x]}\n",
            "k8s/deployment.yaml": "kind: Deployment\n",
            "charts/shop/Chart.yaml": "name: shop\n",
            "charts/shop/templates/svc.yaml": "kind: Service\n",
            "deploy/README.md": "notes\n",
            "Procfile": "web: x\n",
            "fly.toml": "app = 'shop'\n",
            "tests/Dockerfile": "FROM x\n",
            "README.md": "# x\n",
        },
    )
    assert stack.existing == (
        ".dockerignore",
        ".github/workflows/ci.yml",
        ".gitlab-ci.yml",
        "Dockerfile",
        "Procfile",
        "backend/Dockerfile.prod",
        "charts/shop/Chart.yaml",
        "charts/shop/templates/svc.yaml",
        "docker-compose.yml",
        "fly.toml",
        "k8s/deployment.yaml",
    )
    assert stack.ci_platform == "github"  # first in preference order
    assert stack.evidence["ci_platform"] == (Evidence(".github/workflows/ci.yml", None, ""),)


@pytest.mark.parametrize(
    ("file", "platform"),
    [
        (".github/workflows/release.yaml", "github"),
        (".gitlab-ci.yml", "gitlab"),
        ("azure-pipelines.yml", "azure"),
        ("Jenkinsfile", "jenkins"),
        (".circleci/config.yml", "circleci"),
    ],
)
def test_ci_platform_from_existing_files(repo_root: Path, file: str, platform: str) -> None:
    stack = detect(repo_root, {file: "x: 1\n"})
    assert stack.ci_platform == platform
    assert stack.existing == (file,)


@pytest.mark.parametrize(
    ("url", "remote", "platform"),
    [
        ("https://x-access-token:s3cret@github.com/acme/shop.git", "github.com/acme/shop", "github"),
        ("git@gitlab.com:acme/group/shop.git", "gitlab.com/acme/group/shop", "gitlab"),
        ("ssh://git@gitlab.example.com:2222/platform/shop.git", "gitlab.example.com/platform/shop", "gitlab"),
        ("https://acme@dev.azure.com/acme/Shop/_git/shop", "dev.azure.com/acme/Shop/shop", "azure"),
        ("git@ssh.dev.azure.com:v3/acme/Shop/shop", "dev.azure.com/acme/Shop/shop", "azure"),
        ("https://acme.visualstudio.com/Shop/_git/shop", "acme.visualstudio.com/Shop/shop", "azure"),
        ("git@bitbucket.org:acme/shop.git", "bitbucket.org/acme/shop", None),
        ("git@github.com-work:acme/shop.git", "github.com/acme/shop", "github"),
    ],
)
def test_git_remote_and_ci_platform_from_git_config(
    tmp_path: Path, url: str, remote: str, platform: str | None
) -> None:
    config = (
        f'[remote "upstream"]\n\turl = https://github.com/other/fork.git\n[remote "origin"]\n\turl = {url}\n'
    )
    stack = detect(tmp_path / "repo", {".git/config": config})
    assert stack.git_remote == remote
    assert stack.ci_platform == platform
    assert stack.evidence["git_remote"] == (Evidence(".git/config", 4, f"url = {remote}"),)
    assert "s3cret" not in json.dumps(stack.to_json())
    if platform:
        assert stack.evidence["ci_platform"] == stack.evidence["git_remote"]


@pytest.mark.parametrize("url", ["/srv/git/shop.git", "../shop", "file:///srv/shop.git", "C:\\repos\\shop"])
def test_local_remotes_are_not_remotes(url: str) -> None:
    assert parse_remote(url) is None


def test_git_worktree_pointer_is_followed(tmp_path: Path) -> None:
    make_repo(tmp_path / "main", {".git/config": '[remote "origin"]\n  url = https://github.com/acme/shop\n'})
    make_repo(
        tmp_path / "main/.git/worktrees/feature",
        {"commondir": "../..\n", "HEAD": "ref: refs/heads/feature\n"},
    )
    stack = detect(tmp_path / "feature", {".git": f"gitdir: {tmp_path}/main/.git/worktrees/feature\n"})
    assert stack.git_remote == "github.com/acme/shop"


def test_unreadable_git_config_is_ignored(tmp_path: Path) -> None:
    stack = detect(tmp_path / "a", {".git/config": b'[remote "origin"]\n url = https://github.com/\xff/x\n'})
    assert (stack.git_remote, stack.warnings) == (None, ())
    big = "[core]\n" + "# padding\n" * 10_000 + '[remote "origin"]\n url = https://github.com/a/b\n'
    assert detect(tmp_path / "b", {".git/config": big}).git_remote is None


# -- hostile input -----------------------------------------------------------------------------------


def test_binary_manifest_is_a_warning(repo_root: Path) -> None:
    stack = detect(repo_root, {"requirements.txt": b"\x00\x01\x02flask", "app.py": "x = 1\n"})
    assert stack.components == ()
    assert stack.warnings == ("requirements.txt: binary content where text was expected; skipped",)


def test_symlink_loops_do_not_hang_or_crash(repo_root: Path) -> None:
    make_repo(repo_root, FLASK)
    os.symlink("loop", repo_root / "loop")
    (repo_root / "sub").mkdir()
    os.symlink("..", repo_root / "sub" / "up")
    os.symlink("missing.txt", repo_root / "package.json")
    stack = detect_path(repo_root)
    assert only(stack).framework == "flask"


def test_non_utf8_file_name_is_a_warning(repo_root: Path) -> None:
    make_repo(repo_root, FLASK)
    with open(os.path.join(os.fsencode(repo_root), b"caf\xe9.py"), "wb") as handle:
        handle.write(b"x = 1\n")
    stack = detect_path(repo_root)
    assert only(stack).framework == "flask"
    assert stack.warnings == ("caf\ufffd.py: file name is not valid UTF-8; skipped",)


def test_non_utf8_source_is_a_warning(repo_root: Path) -> None:
    stack = detect(
        repo_root, {**FLASK, "app.py": b"# caf\xe9\nfrom flask import Flask\napp = Flask(__name__)\n"}
    )
    assert only(stack).framework == "flask"  # from the dependency, the source could not be read
    assert only(stack).start_command is None
    assert stack.warnings == ("app.py: not valid UTF-8 text; skipped",)


def test_long_names_keep_their_process_suffix(repo_root: Path) -> None:
    folder = "an-extraordinarily-long-service-folder-name-indeed"
    stack = detect(repo_root, {**under(folder, FLASK), f"{folder}/Procfile": "web: x\nworker: y\n"})
    assert sorted((c.kind, c.name) for c in stack.components) == [
        ("web", "an-extraordinarily-long-service-folder-n"),
        ("worker", "an-extraordinarily-long-service-f-worker"),
    ]
