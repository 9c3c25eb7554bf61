"""The Node plugin: package managers, servers, SPAs, asset pipelines and tooling-only manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deploysmith.detect import node
from deploysmith.detect.base import Strength
from deploysmith.model import Component, Evidence

from .conftest import detect, only, run_plugin, where


def package(**fields: Any) -> str:
    return json.dumps({"name": "shop", "version": "1.0.0", **fields}, indent=2) + "\n"


EXPRESS_SERVER = """
    const express = require("express");
    const app = express();

    app.get("/healthz", (req, res) => res.send("ok"));

    const port = process.env.PORT || 8080;
    app.listen(port);
"""


def test_express_with_npm_is_described_exactly(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "package.json": package(
                scripts={"start": "node server.js", "test": "jest", "lint": "eslint ."},
                dependencies={"express": "^4.19.0", "pg": "^8.11.0"},
                devDependencies={"jest": "^29.0.0"},
                engines={"node": ">=20"},
            ),
            "package-lock.json": "{}\n",
            "server.js": EXPRESS_SERVER,
        },
    )
    assert only(stack) == Component(
        name="shop",
        path=".",
        kind="web",
        language="javascript",
        language_version="20",
        framework="express",
        package_manager="npm",
        start_command="node server.js",
        port=8080,
        test_command="npm test",
        lint_command="npm run lint",
        services=("postgres",),
        health_path="/healthz",
        dependency_files=("package.json", "package-lock.json"),
        evidence={
            "package_manager": (Evidence("package-lock.json", None, ""),),
            "dependency_files": (Evidence("package.json", None, ""), Evidence("package-lock.json", None, "")),
            "language_version": (Evidence("package.json", 17, '"node": ">=20"'),),
            "framework": (Evidence("package.json", 10, '"express": "^4.19.0",'),),
            "start_command": (Evidence("package.json", 5, '"start": "node server.js",'),),
            "port": (Evidence("server.js", 6, "const port = process.env.PORT || 8080;"),),
            "health_path": (Evidence("server.js", 4, 'app.get("/healthz", (req, res) => res.send("ok"));'),),
            "test_command": (Evidence("package.json", 6, '"test": "jest",'),),
            "lint_command": (Evidence("package.json", 7, '"lint": "eslint ."'),),
            "services": (Evidence("package.json", 11, '"pg": "^8.11.0"'),),
        },
    )


def test_typescript_server_builds_and_runs_the_compiled_output(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "package.json": package(
                scripts={"build": "tsc -p .", "dev": "tsx watch src/index.ts", "start": "tsx src/index.ts"},
                dependencies={"fastify": "^4.0.0"},
                devDependencies={"typescript": "^5.4.0", "tsx": "^4.0.0"},
            ),
            "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
            "tsconfig.json": (
                '{\n  // comments are allowed here\n  "compilerOptions": {"outDir": "./build/"}\n}\n'
            ),
            "src/index.ts": (
                'import Fastify from "fastify";\nconst app = Fastify();\napp.listen({ port: 4000 });\n'
            ),
        },
    )
    component = only(stack)
    assert (component.language, component.framework) == ("typescript", "fastify")
    assert component.package_manager == "pnpm"
    assert component.build_command == "pnpm run build"
    assert component.build_output == "build"
    assert component.start_command == "node build/index.js"
    assert component.port == 4000
    assert where(component, "start_command") == [("tsconfig.json", 3)]
    assert component.dependency_files == ("package.json", "pnpm-lock.yaml")


def test_nestjs(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "package.json": package(
                scripts={"build": "nest build", "start": "nest start", "start:prod": "node dist/main"},
                dependencies={"@nestjs/core": "^10.0.0", "@nestjs/common": "^10.0.0", "mongoose": "^8"},
            ),
            "yarn.lock": "# yarn lockfile v1\n",
            "src/main.ts": """
                async function bootstrap() {
                  const app = await NestFactory.create(AppModule);
                  await app.listen(process.env.PORT ?? 3001);
                }
            """,
            "src/health/health.controller.ts": """
                @Controller('health')
                export class HealthController {
                  @Get()
                  check() {}
                }
            """,
        },
    )
    component = only(stack)
    assert component.framework == "nestjs"
    assert component.package_manager == "yarn"
    assert component.build_command == "yarn build"
    assert component.build_output == "dist"
    assert component.start_command == "node dist/main"
    assert component.port == 3001
    assert component.health_path == "/health"
    assert where(component, "health_path") == [("src/health/health.controller.ts", 3)]
    assert component.services == ("mongodb",)


def test_nestjs_defaults_to_dist_main(repo_root: Path) -> None:
    files = {"package.json": package(scripts={"build": "nest build"}, dependencies={"@nestjs/core": "10"})}
    component = only(detect(repo_root, files))
    assert component.start_command == "node dist/main.js"
    assert component.port == 3000
    assert component.evidence["port"][0].default is True
    assert component.evidence["start_command"][0].default is True


@pytest.mark.parametrize(
    ("config", "kind", "output", "start"),
    [
        ("module.exports = { output: 'standalone' }\n", "web", ".next/standalone", "node server.js"),
        # `npm start` would not forward SIGTERM: the start script's own command runs.
        ("module.exports = { reactStrictMode: true }\n", "web", ".next", "node_modules/.bin/next start"),
        ("export default { output: 'export' }\n", "static", "out", None),
    ],
)
def test_next(repo_root: Path, config: str, kind: str, output: str, start: str | None) -> None:
    files = {
        "package.json": package(
            scripts={"build": "next build", "start": "next start"}, dependencies={"next": "14"}
        ),
        "next.config.js": config,
        "app/api/health/route.ts": "export function GET() {}\n",
    }
    component = only(detect(repo_root, files))
    assert (component.framework, component.kind, component.language) == ("nextjs", kind, "javascript")
    assert (component.build_command, component.build_output, component.start_command) == (
        "npm run build",
        output,
        start,
    )
    if kind == "web":
        assert component.port == 3000
        assert component.health_path == "/api/health"


def test_next_port_from_the_start_script(repo_root: Path) -> None:
    files = {"package.json": package(scripts={"start": "next start -p 4000"}, dependencies={"next": "14"})}
    component = only(detect(repo_root, files))
    assert component.port == 4000
    assert component.evidence["port"] == (Evidence("package.json", 5, '"start": "next start -p 4000"'),)


def test_standalone_vite_spa_is_a_static_app(tmp_path: Path) -> None:
    files = {
        "package.json": package(
            scripts={"dev": "vite", "build": "tsc && vite build", "lint": "eslint ."},
            dependencies={"react": "^18"},
            devDependencies={"vite": "^5", "@vitejs/plugin-react": "^4"},
        ),
        "vite.config.ts": "export default defineConfig({ build: { outDir: 'public-dist' } })\n",
        "index.html": "<!doctype html><div id=root></div>\n",
    }
    detection = run_plugin(node, tmp_path, files)
    assert detection is not None and detection.strength == Strength.APP
    component = detection.components[0]
    assert (component.kind, component.framework) == ("static", "vite")
    assert (component.build_command, component.build_output) == ("npm run build", "public-dist")
    assert component.start_command is None and component.port is None
    assert where(component, "build_output") == [("vite.config.ts", 1)]


def test_create_react_app_builds_to_build(repo_root: Path) -> None:
    files = {
        "package.json": package(scripts={"build": "react-scripts build"}, dependencies={"react-scripts": "5"})
    }
    component = only(detect(repo_root, files))
    assert (component.kind, component.framework, component.build_output) == (
        "static",
        "create-react-app",
        "build",
    )


def test_laravel_vite_assets_are_not_the_app(tmp_path: Path) -> None:
    files = {
        "composer.json": '{"require": {"laravel/framework": "^11.0"}}',
        "artisan": "#!/usr/bin/env php\n",
        "package.json": package(
            scripts={"dev": "vite", "build": "vite build"},
            devDependencies={"vite": "^5", "laravel-vite-plugin": "^1"},
        ),
        "public/index.php": "<?php\n",
    }
    detection = run_plugin(node, tmp_path, files)
    assert detection is not None
    assert detection.strength == Strength.ASSETS
    assert detection.strength < Strength.APP  # a PHP app in this folder wins


def test_django_with_a_webpack_build_reports_assets(tmp_path: Path) -> None:
    files = {
        "manage.py": "",
        "package.json": package(
            scripts={"build": "webpack --mode production"}, devDependencies={"webpack": "5"}
        ),
    }
    detection = run_plugin(node, tmp_path, files)
    assert detection is not None and detection.strength == Strength.ASSETS


def test_lint_only_package_json_is_tooling(tmp_path: Path) -> None:
    files = {
        "package.json": package(
            scripts={"lint": "eslint .", "format": "prettier --write ."},
            devDependencies={"eslint": "^9", "prettier": "^3"},
        )
    }
    detection = run_plugin(node, tmp_path, files)
    assert detection is not None and detection.strength == Strength.TOOLING


def test_workspace_root_is_tooling(tmp_path: Path) -> None:
    files = {
        "package.json": package(private=True, workspaces=["apps/*"], scripts={"start": "turbo run start"})
    }
    detection = run_plugin(node, tmp_path, files)
    assert detection is not None and detection.strength == Strength.TOOLING


def test_a_worker_without_a_listener(repo_root: Path) -> None:
    files = {
        "package.json": package(
            scripts={"start": "node worker.js"}, dependencies={"amqplib": "0.10", "kafkajs": "2"}
        ),
        "worker.js": "consume();\n",
    }
    component = only(detect(repo_root, files))
    assert (component.kind, component.start_command, component.port) == ("worker", "node worker.js", None)
    assert component.services == ("rabbitmq", "kafka")


def test_a_server_file_without_scripts(repo_root: Path) -> None:
    files = {"package.json": package(dependencies={"express": "4"}), "index.js": EXPRESS_SERVER}
    component = only(detect(repo_root, files))
    assert component.start_command == "node index.js"
    assert where(component, "start_command") == [("index.js", 7)]


@pytest.mark.parametrize(
    ("files", "manager", "source"),
    [
        (
            {"yarn.lock": "", ".yarnrc.yml": "nodeLinker: node-modules\n"},
            "yarn",
            ["yarn.lock", ".yarnrc.yml"],
        ),
        ({"bun.lockb": b"\x00\x01binary"}, "bun", ["bun.lockb"]),
        ({"bun.lock": "{}\n"}, "bun", ["bun.lock"]),
        ({"npm-shrinkwrap.json": "{}\n"}, "npm", ["npm-shrinkwrap.json"]),
        ({}, "npm", ["package.json"]),
    ],
)
def test_package_manager_from_lock_files(
    repo_root: Path, files: dict[str, str | bytes], manager: str, source: list[str]
) -> None:
    base = {"package.json": package(scripts={"start": "node server.js"}, dependencies={"express": "4"})}
    stack = detect(repo_root, {**base, **files})
    component = only(stack)
    assert component.package_manager == manager
    assert [e.file for e in component.evidence["package_manager"]] == source
    assert component.evidence["package_manager"][0].default is (not files)
    assert stack.warnings == ()  # the binary bun.lockb is never read


def test_package_manager_field_wins_over_lock_files(repo_root: Path) -> None:
    files = {
        "package.json": package(
            packageManager="pnpm@9.1.0", scripts={"start": "node a.js"}, dependencies={"koa": "2"}
        ),
        "package-lock.json": "{}",
    }
    component = only(detect(repo_root, files))
    assert component.package_manager == "pnpm"
    assert component.start_command == "node a.js"
    assert where(component, "package_manager") == [("package.json", 4)]


@pytest.mark.parametrize(
    ("files", "version", "source"),
    [
        ({".nvmrc": "v20.11.1\n"}, "20", (".nvmrc", 1)),
        ({".node-version": "18\n"}, "18", (".node-version", 1)),
        ({".nvmrc": "lts/*\n", ".tool-versions": "nodejs 22.2.0\n"}, "22", (".tool-versions", 1)),
    ],
)
def test_node_version_files(
    repo_root: Path, files: dict[str, str], version: str, source: tuple[str, int]
) -> None:
    base = {"package.json": package(scripts={"start": "node a.js"}, dependencies={"express": "4"})}
    component = only(detect(repo_root, {**base, **files}))
    assert component.language_version == version
    assert where(component, "language_version") == [source]


def test_node_version_from_volta(repo_root: Path) -> None:
    files = {"package.json": package(volta={"node": "20.12.2"}, dependencies={"express": "4"})}
    component = only(detect(repo_root, files))
    assert component.language_version == "20"
    assert component.evidence["language_version"][0].text == '"node": "20.12.2"'


def test_npm_init_test_placeholder_is_ignored(repo_root: Path) -> None:
    files = {
        "package.json": package(
            scripts={"start": "node a.js", "test": 'echo "Error: no test specified" && exit 1'},
            dependencies={"express": "4"},
        )
    }
    assert only(detect(repo_root, files)).test_command is None


@pytest.mark.parametrize(
    ("dependency", "service"),
    [
        ("pg", "postgres"),
        ("postgres", "postgres"),
        ("mysql2", "mysql"),
        ("mongodb", "mongodb"),
        ("mongoose", "mongodb"),
        ("redis", "redis"),
        ("ioredis", "redis"),
        ("amqplib", "rabbitmq"),
        ("kafkajs", "kafka"),
    ],
)
def test_services_from_dependencies(repo_root: Path, dependency: str, service: str) -> None:
    files = {"package.json": package(dependencies={"express": "4", dependency: "1"})}
    assert only(detect(repo_root, files)).services == (service,)


def test_prisma_provider_and_migrations(repo_root: Path) -> None:
    files = {
        "package.json": package(
            scripts={"start": "node dist/index.js", "migrate": "prisma migrate dev"},
            dependencies={"express": "4", "@prisma/client": "5"},
            devDependencies={"prisma": "5"},
        ),
        "prisma/schema.prisma": (
            'datasource db {\n  provider = "postgresql"\n  url = env("DATABASE_URL")\n}\n'
        ),
    }
    component = only(detect(repo_root, files))
    assert component.services == ("postgres",)
    assert where(component, "services") == [("prisma/schema.prisma", 2)]
    assert (component.migration_tool, component.migrate_command) == ("prisma", "npx prisma migrate deploy")


@pytest.mark.parametrize(
    ("extra", "scripts", "deps", "tool", "command"),
    [
        ({"knexfile.js": ""}, {}, {"knex": "3"}, "knex", "npx knex migrate:latest"),
        (
            {},
            {"migration:run": "typeorm migration:run -d ds.js"},
            {"typeorm": "0.3"},
            "typeorm",
            "npm run migration:run",
        ),
        ({".sequelizerc": ""}, {}, {"sequelize": "6"}, "sequelize", "npx sequelize-cli db:migrate"),
    ],
)
def test_migration_tools(
    repo_root: Path,
    extra: dict[str, str],
    scripts: dict[str, str],
    deps: dict[str, str],
    tool: str,
    command: str,
) -> None:
    files = {
        "package.json": package(
            scripts={"start": "node a.js", **scripts}, dependencies={"express": "4", **deps}
        )
    }
    component = only(detect(repo_root, {**files, **extra}))
    assert (component.migration_tool, component.migrate_command) == (tool, command)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", b"\x00\x01\x02"])
def test_unreadable_package_json_is_a_warning(repo_root: Path, content: str | bytes) -> None:
    stack = detect(repo_root, {"package.json": content})
    assert stack.components == ()
    assert len(stack.warnings) == 1
    assert stack.warnings[0].startswith("package.json")


def test_typescript_library_is_tooling(tmp_path: Path) -> None:
    files = {
        "package.json": package(
            main="dist/index.js", scripts={"build": "tsc"}, devDependencies={"typescript": "5"}
        ),
        "src/index.ts": "export const add = (a: number, b: number) => a + b;\n",
    }
    detection = run_plugin(node, tmp_path, files)
    assert detection is not None and detection.strength == Strength.TOOLING


def test_vite_library_without_index_html_is_tooling(tmp_path: Path) -> None:
    files = {"package.json": package(scripts={"build": "vite build"}, devDependencies={"vite": "5"})}
    detection = run_plugin(node, tmp_path, files)
    assert detection is not None and detection.strength == Strength.TOOLING


def test_typescript_server_without_a_start_script(repo_root: Path) -> None:
    files = {
        "package.json": package(scripts={"build": "tsc"}, devDependencies={"typescript": "5"}),
        "src/server.ts": "import http from 'node:http';\nhttp.createServer(handler).listen(8080);\n",
    }
    component = only(detect(repo_root, files))
    assert (component.start_command, component.build_output, component.port) == (
        "node dist/server.js",
        "dist",
        8080,
    )
    assert component.kind == "web"


def test_sveltekit_with_the_node_adapter(repo_root: Path) -> None:
    files = {
        "package.json": package(
            scripts={"build": "vite build"},
            devDependencies={"@sveltejs/kit": "2", "@sveltejs/adapter-node": "5", "vite": "5"},
        )
    }
    component = only(detect(repo_root, files))
    assert (component.framework, component.kind, component.start_command) == (
        "sveltekit",
        "web",
        "node build",
    )
    assert (component.build_command, component.build_output, component.port) == (
        "npm run build",
        "build",
        3000,
    )


def test_node_pins_in_the_folder_then_volta_then_above(repo_root: Path) -> None:
    api = {"package.json": package(dependencies={"express": "4"}), ".nvmrc": "22\n"}
    web = {"package.json": package(dependencies={"express": "4"}, volta={"node": "18.20.0"})}
    worker = {"package.json": package(dependencies={"express": "4"}, engines={"node": ">=16"})}
    stack = detect(
        repo_root,
        {
            ".nvmrc": "20\n",
            **{f"api/{k}": v for k, v in api.items()},
            **{f"web/{k}": v for k, v in web.items()},
            **{f"worker/{k}": v for k, v in worker.items()},
        },
    )
    assert [(c.name, c.language_version) for c in stack.components] == [
        ("api", "22"),
        ("web", "18"),
        ("worker", "20"),
    ]


def test_fastify_route_options_health(repo_root: Path) -> None:
    files = {
        "package.json": package(scripts={"start": "node app.js"}, dependencies={"fastify": "4"}),
        "app.js": """
            fastify.route({ method: 'GET', url: '/livez', handler })
            fastify.listen({ port: 3000 })
        """,
    }
    component = only(detect(repo_root, files))
    assert (component.health_path, component.port) == ("/livez", 3000)
    assert where(component, "port") == [("app.js", 2)]


@pytest.mark.parametrize(
    ("dependency", "framework"), [("koa", "koa"), ("hono", "hono"), ("@hapi/hapi", "hapi")]
)
def test_other_node_servers(repo_root: Path, dependency: str, framework: str) -> None:
    files = {"package.json": package(scripts={"start": "node index.js"}, dependencies={dependency: "1"})}
    component = only(detect(repo_root, files))
    assert (component.framework, component.kind, component.start_command) == (
        framework,
        "web",
        "node index.js",
    )
    assert component.port == 3000 and component.evidence["port"][0].default


# -- dependency files: everything the install reads, nothing that holds credentials ------------

SERVER = {"server.js": EXPRESS_SERVER}


def server_package(**fields: Any) -> str:
    return package(scripts={"start": "node server.js"}, dependencies={"express": "4"}, **fields)


@pytest.mark.parametrize(
    ("files", "manager", "dependency_files"),
    [
        (  # npm prefers npm-shrinkwrap.json; .yarnrc.yml is no npm file
            {"package-lock.json": "{}", "npm-shrinkwrap.json": "{}", ".npmrc": "engine-strict=true\n",
             ".yarnrc.yml": "nodeLinker: node-modules\n"},
            "npm",
            ("package.json", "npm-shrinkwrap.json", ".npmrc"),
        ),
        (  # pnpm 10 settings and patches in pnpm-workspace.yaml, hooks in .pnpmfile.cjs
            {"pnpm-lock.yaml": "lockfileVersion: '9.0'\n", ".npmrc": "auto-install-peers=true\n",
             "pnpm-workspace.yaml": "patchedDependencies:\n  express@4.19.2: patches/express@4.19.2.patch\n",
             ".pnpmfile.cjs": "module.exports = {}\n", "patches/express@4.19.2.patch": "--- a\n",
             "patches/unused.patch": "--- b\n"},
            "pnpm",
            ("package.json", "pnpm-lock.yaml", ".npmrc", "pnpm-workspace.yaml", ".pnpmfile.cjs",
             "patches/express@4.19.2.patch"),
        ),
        (  # Yarn 1 runs the release its .yarnrc names
            {"yarn.lock": "# yarn lockfile v1\n", ".npmrc": "save-exact=true\n",
             ".yarnrc": 'yarn-path ".yarn/releases/yarn-1.22.22.cjs"\n',
             ".yarn/releases/yarn-1.22.22.cjs": "// yarn\n"},
            "yarn",
            ("package.json", "yarn.lock", ".npmrc", ".yarnrc", ".yarn/releases/yarn-1.22.22.cjs"),
        ),
        (  # Yarn 2+: its release and plugins, patch: files; not .npmrc, not the package cache
            {"yarn.lock": "__metadata:\n", ".npmrc": "save-exact=true\n",
             ".yarnrc.yml": "yarnPath: .yarn/releases/yarn-4.5.0.cjs\n",
             ".yarn/releases/yarn-4.5.0.cjs": "// yarn\n",
             ".yarn/plugins/@yarnpkg/plugin-workspace-tools.cjs": "// plugin\n",
             ".yarn/patches/express-npm-4.19.2-abc.patch": "--- a\n",
             ".yarn/cache/express.zip": b"PK\x03\x04"},
            "yarn",
            ("package.json", "yarn.lock", ".yarnrc.yml", ".yarn/releases/yarn-4.5.0.cjs",
             ".yarn/plugins/@yarnpkg/plugin-workspace-tools.cjs",
             ".yarn/patches/express-npm-4.19.2-abc.patch"),
        ),
        (
            {"bun.lock": "{}\n", "bunfig.toml": "[install]\nexact = true\n",
             "patches/express.patch": "--- a\n"},
            "bun",
            ("package.json", "bun.lock", "bunfig.toml", "patches/express.patch"),
        ),
    ],
)
def test_dependency_files_are_what_each_install_reads(
    repo_root: Path, files: dict[str, str | bytes], manager: str, dependency_files: tuple[str, ...]
) -> None:
    fields: dict[str, Any] = {}
    if ".yarnrc.yml" in files and manager == "yarn":
        patch = "patch:express@npm%3A4.19.2#~/.yarn/patches/express-npm-4.19.2-abc.patch"
        fields["resolutions"] = {"express": patch}
    if manager == "bun":
        fields["patchedDependencies"] = {"express@4.19.2": "patches/express.patch"}
    stack = detect(repo_root, {"package.json": server_package(**fields), **SERVER, **files})
    component = only(stack)
    assert component.package_manager == manager
    assert component.dependency_files == dependency_files
    assert where(component, "dependency_files") == [(name, None) for name in dependency_files]
    assert stack.warnings == ()


@pytest.mark.parametrize(
    ("name", "text", "key"),
    [
        (".npmrc", "@acme:registry=https://npm.acme.dev/\n//npm.acme.dev/:_authToken=${NPM_TOKEN}\n",
         "_authToken"),
        (".npmrc", "_auth=dXNlcjpwYXNz\n", "_auth"),
    ],
)
def test_npmrc_with_credentials_is_never_a_dependency_file(
    repo_root: Path, name: str, text: str, key: str
) -> None:
    files = {"package.json": server_package(), "package-lock.json": "{}", name: text, **SERVER}
    stack = detect(repo_root, files)
    assert only(stack).dependency_files == ("package.json", "package-lock.json")
    assert stack.warnings == (
        f"{name}: holds registry credentials ({key}); not copied with the dependency files (an image "
        "layer would keep it): give the install a BuildKit secret instead (RUN --mount=type=secret) and "
        "keep the file out of the image (.dockerignore)",
    )


def test_yarnrc_yml_with_an_auth_token_is_never_a_dependency_file(repo_root: Path) -> None:
    files = {
        "package.json": server_package(),
        "yarn.lock": "__metadata:\n",
        ".yarnrc.yml": "npmScopes:\n  acme:\n    npmAuthToken: abc123\n",
        **SERVER,
    }
    stack = detect(repo_root, files)
    assert only(stack).dependency_files == ("package.json", "yarn.lock")
    assert stack.warnings[0].startswith(".yarnrc.yml: holds registry credentials (npmAuthToken); not copied")


def test_install_scripts_bring_their_files(repo_root: Path) -> None:
    files = {
        "package.json": package(
            scripts={
                "start": "node server.js",
                "postinstall": "patch-package --patch-dir fixes && prisma generate",
                "prepare": "node ./scripts/prepare.js",
            },
            dependencies={"express": "4", "@prisma/client": "5"},
            devDependencies={"prisma": "5", "patch-package": "8"},
        ),
        "package-lock.json": "{}",
        "fixes/express+4.19.2.patch": "--- a\n",
        "prisma/schema.prisma": 'datasource db {\n  provider = "postgresql"\n}\n',
        "scripts/prepare.js": "console.log('prepared')\n",
        **SERVER,
    }
    stack = detect(repo_root, files)
    assert only(stack).dependency_files == (
        "package.json",
        "package-lock.json",
        "fixes/express+4.19.2.patch",
        "prisma/schema.prisma",
        "scripts/prepare.js",
    )
    assert stack.warnings == ()


def test_an_install_script_that_builds_is_reported(repo_root: Path) -> None:
    files = {
        "package.json": package(scripts={"start": "node server.js", "prepare": "npm run build"},
                                dependencies={"express": "4"}),
        **SERVER,
    }
    stack = detect(repo_root, files)
    assert stack.warnings == (
        "package.json: scripts.prepare (`npm run build`) runs during the install, before the image has the "
        "source; the dependency install there fails or builds nothing",
    )


def test_a_workspace_member_without_its_own_lock_is_reported(repo_root: Path) -> None:
    files = {
        "package.json": json.dumps({"private": True, "workspaces": ["apps/*"]}),
        "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
        "apps/api/package.json": server_package(),
        "apps/api/server.js": EXPRESS_SERVER,
    }
    stack = detect(repo_root, files)
    api = only(stack)
    assert (api.package_manager, api.dependency_files) == ("pnpm", ("package.json",))
    assert stack.warnings == (
        "apps/api: pnpm install reads pnpm-lock.yaml, outside apps/api, the folder the image is built from; "
        "the image build cannot see it (the install there is not locked, and workspace dependencies do "
        "not resolve)",
    )


# -- start scripts: the command itself, so the app receives SIGTERM ----------------------------


@pytest.mark.parametrize(
    ("scripts", "manager_files", "start", "lines"),
    [
        # A dependency's binary is named by its path: no package manager puts it on PATH.
        ({"start": "remix-serve ./build/server/index.js"}, {},
         "node_modules/.bin/remix-serve ./build/server/index.js", [5]),
        # A script that only runs another script resolves through it; both lines are evidence.
        ({"start": "yarn run launch", "launch": "npx fastify start -l info app.js"}, {"yarn.lock": ""},
         "node_modules/.bin/fastify start -l info app.js", [5, 6]),
        ({"start": "bun run serve:prod", "serve:prod": "bun server.ts"}, {"bun.lock": "{}"},
         "bun server.ts", [5, 6]),
        # A `node` script that is not plain is not taken; the start script is.
        ({"start:prod": "node server.js | pino-pretty", "start": "node --enable-source-maps server.js"}, {},
         "node --enable-source-maps server.js", [6]),
    ],
)
def test_start_scripts_resolve_to_their_command(
    repo_root: Path, scripts: dict[str, str], manager_files: dict[str, str], start: str, lines: list[int]
) -> None:
    files = {"package.json": package(scripts=scripts, dependencies={"express": "4"}), **SERVER}
    files.update(manager_files)
    stack = detect(repo_root, files)
    component = only(stack)
    assert component.start_command == start
    assert where(component, "start_command") == [("package.json", line) for line in lines]
    assert stack.warnings == ()


@pytest.mark.parametrize(
    ("script", "manager_files", "kept", "reason"),
    [
        ("cross-env NODE_ENV=production node server.js", {}, "npm start", "runs the app through cross-env"),
        ("NODE_ENV=production node server.js", {"pnpm-lock.yaml": ""}, "pnpm start",
         "sets environment variables inline"),
        ("node migrate.js && node server.js", {"yarn.lock": ""}, "yarn start",
         "needs a shell (&&, pipes, redirects or $ expansion)"),
        ("node server.js --port $PORT", {"bun.lock": "{}"}, "bun run start",
         "needs a shell (&&, pipes, redirects or $ expansion)"),
    ],
)
def test_complex_start_scripts_keep_the_package_manager_with_a_warning(
    repo_root: Path, script: str, manager_files: dict[str, str], kept: str, reason: str
) -> None:
    files = {"package.json": package(scripts={"start": script}, dependencies={"express": "4"}), **SERVER,
             **manager_files}
    stack = detect(repo_root, files)
    component = only(stack)
    assert component.start_command == kept
    assert where(component, "start_command") == [("package.json", 5)]
    runner = kept.split()[0]
    assert stack.warnings == (
        f"package.json: scripts.start (`{script}`) {reason}; the start command stays `{kept}`, and {runner} "
        "does not forward SIGTERM to the app in a container: make the script one plain command (e.g. "
        "`node dist/main.js`)",
    )


def test_next_start_with_a_port_variable_keeps_npm_start(repo_root: Path) -> None:
    files = {"package.json": package(scripts={"start": "next start -p $PORT"}, dependencies={"next": "14"})}
    stack = detect(repo_root, files)
    assert only(stack).start_command == "npm start"
    assert "scripts.start (`next start -p $PORT`) needs a shell" in stack.warnings[0]
