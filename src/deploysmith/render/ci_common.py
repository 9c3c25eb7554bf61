"""What every CI renderer shares, whatever the platform: the units a pipeline builds and
tests, the toolchain of each unit as a container image plus shell commands, the test
reports each test command can write, the backing services of the test jobs, and the shell
that deploys, waits, smoke-tests and rolls back.

The platform modules (github_actions, gitlab_ci, azure_pipelines, jenkins, circleci) map
these onto their own mechanisms: a cache keyed on the lock file, a test-report publisher,
an environment with an approval, a rollback hook. Nothing here names a platform; where a
script reports an error or a warning, the platform passes its own way of saying it (a
`Dialect`).

Deploy commands come from `render.kustomize.deploy_commands`, so every pipeline and the
runbook run the same commands.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from deploysmith.model import Component, EnvironmentPlan, Image, Plan, Stage
from deploysmith.plan import pipeline as stages
from deploysmith.render import argocd, flux, gitops, helm, kustomize, packaging, progressive, targets
from deploysmith.render import kubernetes as k8s
from deploysmith.render.dockerfiles.base import COMPOSER_IMAGE, TOOLS, TOOLS_CHECKED

MAIN = "main"
PROD_ENVIRONMENT = "production"  # the protected environment every platform names the same
KUBE_AUDIENCE = "kubernetes"  # audience of the OIDC tokens the cluster accepts

# Minutes per job, by what it does. Every job of every platform has one.
TIMEOUTS: dict[str, int] = {
    "build": 20,
    "test": 30,
    "security-scan": 20,
    "package": 45,
    "deploy": 45,
    "deploy-gitops-manual": 60,
    "integration-test": 10,
    "approval": 5,
    "verify": 35,  # rollout check, health probe, the error-budget bake (render.bake), a rollback
}
GITOPS_WAIT_MINUTES = {True: 10, False: 30}  # by EnvironmentPlan.auto_deploy: a manual sync waits longer
APPROVAL_WAIT_HOURS = 72  # how long a platform that counts the wait (Jenkins input) holds the run

# Images the pipelines run in besides each unit's toolchain image. The official ones come
# from docker-library/official-images (checked IMAGES_CHECKED, like the Dockerfile bases);
# the others are pinned to a release and named here so one edit updates every platform.
IMAGES_CHECKED = "2026-08-21"
DEPLOY_IMAGE = "alpine/k8s:1.34.5"  # kubectl 1.34 + kustomize, jq, curl, git, bash
TRIVY_IMAGE = "aquasec/trivy:0.68.1"  # the release trivy-action installs by default
DOCKER_IMAGE = "docker:28-cli"  # docker CLI with buildx
DIND_IMAGE = "docker:28-dind"
BARE_IMAGE = "debian:trixie-slim"  # units with no toolchain: the files go into the image as is
GOTESTSUM = "gotest.tools/gotestsum@v1.12.0"  # `go test` with a JUnit report
TOOLS_DIR = "/tmp/ci-tools"  # build tools CI installs (uv, poetry, corepack…): outside the checkout

__all__ = ["COMPOSER_IMAGE", "TOOLS", "TOOLS_CHECKED"]  # extended at the end of the module


# -- services of the test jobs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    image: str
    port: int
    health: str  # a command that succeeds once the service accepts connections
    url: str  # what the app's env var (plan.SERVICE_ENV) points at; {host} is where it runs
    env: dict[str, str] = field(default_factory=dict)
    local_host: str = "localhost"  # the host when the service shares the job's network

    def url_at(self, host: str | None = None) -> str:
        return self.url.format(host=host or self.local_host)

    @property
    def local_url(self) -> str:
        return self.url_at()


# Test containers, pinned to a version line (official images, checked SERVICES_CHECKED). The
# databases trust connections without a password: they live for one job on one runner.
SERVICES_CHECKED = "2026-08-21"
SERVICES: dict[str, Service] = {
    "postgres": Service(
        "postgres:18-trixie",
        5432,
        "pg_isready -U postgres",
        "postgresql://postgres@{host}:5432/test",
        {"POSTGRES_DB": "test", "POSTGRES_HOST_AUTH_METHOD": "trust"},
    ),
    "redis": Service("redis:8.10-trixie", 6379, "redis-cli ping", "redis://{host}:6379/0"),
    "mysql": Service(
        "mysql:8.4-oraclelinux9",
        3306,
        "mysqladmin ping --host=127.0.0.1",
        "mysql://root@{host}:3306/test",
        {"MYSQL_DATABASE": "test", "MYSQL_ALLOW_EMPTY_PASSWORD": "yes"},
        local_host="127.0.0.1",
    ),
    "mariadb": Service(
        "mariadb:11.8-noble",
        3306,
        "healthcheck.sh --connect --innodb_initialized",
        "mysql://root@{host}:3306/test",
        {"MARIADB_DATABASE": "test", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "1"},
        local_host="127.0.0.1",
    ),
    "mongodb": Service(
        "mongo:8.0-noble",
        27017,
        "mongosh --quiet --eval 'db.adminCommand({ping: 1})'",
        "mongodb://{host}:27017/test",
    ),
    "rabbitmq": Service(
        "rabbitmq:4.3-alpine",
        5672,
        "rabbitmq-diagnostics -q ping",
        "amqp://test:test@{host}:5672/",
        {"RABBITMQ_DEFAULT_USER": "test", "RABBITMQ_DEFAULT_PASS": "test"},
    ),
}


# -- what a pipeline covers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """What one Build and one Test job cover: the components built into one image."""

    image: Image
    components: tuple[Component, ...]
    suffix: str  # "" when the plan has one image, else "-<image>"

    @property
    def lead(self) -> Component:
        return self.components[0]

    @property
    def path(self) -> str:
        return self.image.context

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f for c in self.components for f in c.dependency_files))

    def file(self, name: str) -> str:
        return name if self.path == "." else f"{self.path}/{name}"

    @property
    def label(self) -> str:
        return self.image.name

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for c in self.components for s in c.services))


@dataclass(frozen=True)
class Context:
    plan: Plan
    units: tuple[Unit, ...]
    images: tuple[Image, ...]
    preprod: EnvironmentPlan | None  # where Deploy Staging goes
    prod: EnvironmentPlan | None
    gitops: bool

    @staticmethod
    def of(plan: Plan) -> Context:
        components = {w.component.name: w.component for w in plan.workloads}
        images = tuple(i for i in plan.images if any(c in components for c in i.components))
        several = len(images) > 1
        units = tuple(
            Unit(
                image,
                tuple(components[c] for c in image.components if c in components),
                f"-{slug(image.name)}" if several else "",
            )
            for image in images
        )
        preprod = plan.environment("staging") or next(
            (env for env in plan.environments if env.name != "prod"), None
        )
        return Context(plan, units, images, preprod, plan.environment("prod"), plan.requirements.gitops)

    def stage(self, stage_id: str) -> Stage:
        return self.plan.stage(stage_id)

    @property
    def monorepo(self) -> bool:
        return len(self.units) > 1

    def build_jobs(self) -> list[str]:
        return [f"{stages.BUILD}{unit.suffix}" for unit in self.units]

    def package_jobs(self) -> list[str]:
        """One Package job per image, so a monorepo's images build side by side (`package` when
        there is one image)."""
        return [f"{stages.PACKAGE}{unit.suffix}" for unit in self.units]

    def for_unit(self, unit: Unit) -> Context:
        """This context narrowed to one unit and its image: the per-image Package job renders
        with the same functions as the whole pipeline, which loop over `images`."""
        return replace(self, units=(unit,), images=(unit.image,))

    def test_jobs(self) -> list[str]:
        return [f"{stages.TEST}{unit.suffix}" for unit in self.units]

    def rendered(self, stage_id: str) -> bool:
        """Whether the pipeline has this stage: the deploy stages need their environment."""
        if stage_id in (stages.DEPLOY_STAGING, stages.INTEGRATION_TEST):
            return self.preprod is not None
        if stage_id in (stages.APPROVAL, stages.DEPLOY_PROD, stages.VERIFY):
            return self.prod is not None
        return True

    @property
    def stages(self) -> tuple[Stage, ...]:
        return tuple(stage for stage in self.plan.stages if self.rendered(stage.id))

    def environment_name(self, env: EnvironmentPlan) -> str:
        """The platform environment a plan environment deploys through."""
        return PROD_ENVIRONMENT if env.name == "prod" else env.name

    def others(self) -> list[str]:
        """Environments the pipeline does not deploy (deployed by hand, see the runbook)."""
        return [
            env.name for env in self.plan.environments if env is not self.preprod and env is not self.prod
        ]


def header_lines(ctx: Context, platform: str) -> list[str]:
    """The opening of every pipeline file after the generated-by line: the stages in order
    and what is left out."""
    lines = [
        "Stages, in order (each job's comment gives its failure policy):",
        "  " + " -> ".join(s.name for s in ctx.stages),
        f"Merge requests and pull requests run Build, Test and Security Scan; the default branch ({MAIN})"
        " runs them all.",
    ]
    others = ctx.others()
    if others:
        lines.append(f"Not deployed by this pipeline: {', '.join(others)} (by hand: docs/deploy/RUNBOOK.md).")
    if ctx.preprod is None:
        lines.append(
            "No pre-production environment was requested: Deploy Staging and Integration Test are left out."
        )
    elif ctx.preprod.name != "staging":
        lines.append(f"No staging environment was requested: Deploy Staging deploys to {ctx.preprod.name}.")
    if ctx.prod is None:
        lines.append(
            "No prod environment was requested: Approval, Deploy Prod and Verify are left out; add prod to\n"
            "the environments and regenerate to get them."
        )
    lines.append(f"One-time setup on {platform}: docs/deploy/DEPLOYMENT.md.")
    return lines


# -- toolchains ------------------------------------------------------------------------------------

LOCKS: dict[str, tuple[str, ...]] = {
    "npm": ("package-lock.json", "npm-shrinkwrap.json"),
    "pnpm": ("pnpm-lock.yaml",),
    "yarn": ("yarn.lock",),
    "bun": ("bun.lock", "bun.lockb"),
}


def family(component: Component) -> str | None:
    """The toolchain family of a component: python, node, jvm, dotnet, go, rust, ruby, php."""
    language = (component.language or "").lower()
    if language == "python":
        return "python"
    if language in ("javascript", "typescript"):
        return "node"
    if language in ("java", "kotlin", "scala"):
        return "jvm"
    if language in ("csharp", "fsharp", "dotnet"):
        return "dotnet"
    if language in ("go", "rust", "ruby", "php"):
        return language
    if component.package_manager in LOCKS:
        return "node"
    return None


def first(unit: Unit, *names: str) -> str | None:
    """The first of `names` the unit has among its dependency files."""
    return next((name for name in names if name in unit.files), None)


def lint_commands(unit: Unit) -> list[str]:
    return list(dict.fromkeys(c.lint_command for c in unit.components if c.lint_command))


def build_commands(unit: Unit, family_name: str | None) -> list[str]:
    commands = list(dict.fromkeys(c.build_command for c in unit.components if c.build_command))
    if family_name == "go" and commands:
        return ["go build ./..."]  # each binary's own -o path is the Dockerfile's business
    return commands


def test_commands(unit: Unit) -> list[str]:
    return list(dict.fromkeys(c.test_command for c in unit.components if c.test_command))


_ABSOLUTE_OUTPUT = re.compile(r"(\s(?:-o|--output)(?:\s+|=))(/\S*)")


def in_workspace(command: str, root: str) -> str:
    """A build command as the Dockerfile runs it may write to an absolute path (`-o /app`);
    on a CI runner that path is not writable, so the output moves under `root` (a shell
    expression such as `${RUNNER_TEMP}`)."""
    return _ABSOLUTE_OUTPUT.sub(lambda m: f'{m.group(1)}"{root}{m.group(2)}"', command)


@dataclass(frozen=True)
class Cache:
    """A dependency cache: a folder under the checkout's `.cache/`, keyed on lock files."""

    name: str  # e.g. "uv"; also the folder name under .cache/
    variables: tuple[tuple[str, str], ...]  # env vars that point the tool at it: (name, value with {dir})
    key_files: tuple[str, ...]  # repository-relative lock (or manifest) files; () → no key file
    locked: bool  # key_files include a real lock file (not only a manifest)

    @property
    def folder(self) -> str:
        return f".cache/{self.name}"


@dataclass(frozen=True)
class Toolchain:
    """How a unit's Build and Test jobs get their tools, as a container image and shell.

    `setup` and `install` run in the unit's folder; `path` holds folders (relative to it,
    or absolute) the later commands need first on PATH. `env` is static; each cache's
    variables are set by the platform to the cache folder under its workspace path.
    """

    family: str | None
    image: str
    env: tuple[tuple[str, str], ...]
    caches: tuple[Cache, ...]
    setup: tuple[str, ...]
    install: tuple[str, ...]
    path: tuple[str, ...]
    notes: tuple[str, ...] = ()


def toolchain(unit: Unit) -> Toolchain:
    """The toolchain of a unit: its Dockerfile's build image (same version line, tags
    checked with the Dockerfile bases), the package manager's cache, pinned build tools."""
    family_name = family(unit.lead)
    image = unit.image.build_base or BARE_IMAGE
    if family_name is None:
        return Toolchain(None, image, (), (), (), (), ())
    builder = _BUILDERS[family_name]
    return builder(unit, image)


def _cache(
    unit: Unit, name: str, variables: tuple[str, ...], *lock_names: str, manifests: tuple[str, ...] = ()
) -> Cache:
    pointed = tuple((variable, "{dir}") for variable in variables)
    lock = first(unit, *lock_names)
    if lock:
        return Cache(name, pointed, (unit.file(lock),), True)
    present = tuple(unit.file(f) for f in manifests if f in unit.files)
    return Cache(name, pointed, present[:2], False)


def _tool_venv(tool: str) -> tuple[str, ...]:
    venv = f"{TOOLS_DIR}/venv"
    return (
        f"python -m venv {venv}",
        f'{venv}/bin/python -m pip install --quiet --disable-pip-version-check "{tool}=={TOOLS[tool]}"',
    )


def _python(unit: Unit, image: str) -> Toolchain:
    manager = unit.lead.package_manager
    venv_bin = ".venv/bin"
    tools_bin = f"{TOOLS_DIR}/venv/bin"
    if manager == "uv":
        cache = _cache(unit, "uv", ("UV_CACHE_DIR",), "uv.lock", manifests=("pyproject.toml",))
        return Toolchain(
            "python",
            image,
            (("UV_PYTHON_DOWNLOADS", "never"), ("UV_LINK_MODE", "copy")),
            (cache,),
            _tool_venv("uv"),
            ("uv sync --locked" if cache.locked else "uv sync",),
            (venv_bin, tools_bin),
            (
                "uv sync --locked fails when uv.lock is out of date with pyproject.toml."
                if cache.locked
                else "No uv.lock: commit one (`uv lock`) so CI installs exactly it.",
            ),
        )
    if manager == "poetry":
        cache = _cache(unit, "poetry", ("POETRY_CACHE_DIR",), "poetry.lock", manifests=("pyproject.toml",))
        install = (
            ("poetry check --lock", "poetry install --no-interaction")
            if cache.locked
            else ("poetry install --no-interaction",)
        )
        return Toolchain(
            "python",
            image,
            (("POETRY_VIRTUALENVS_IN_PROJECT", "true"),),
            (cache,),
            _tool_venv("poetry"),
            install,
            (venv_bin, tools_bin),
        )
    if manager == "pipenv":
        cache = _cache(
            unit, "pipenv", ("PIPENV_CACHE_DIR", "PIP_CACHE_DIR"), "Pipfile.lock", manifests=("Pipfile",)
        )
        return Toolchain(
            "python",
            image,
            (("PIPENV_VENV_IN_PROJECT", "1"),),
            (cache,),
            _tool_venv("pipenv"),
            ("pipenv sync --dev",),
            (venv_bin, tools_bin),
        )
    requirements = [f for f in unit.files if re.fullmatch(r"requirements[\w.-]*\.txt", f.rsplit("/", 1)[-1])]
    keyed = requirements or [f for f in unit.files if f.endswith("pyproject.toml")]
    cache = Cache(
        "pip", (("PIP_CACHE_DIR", "{dir}"),), tuple(unit.file(f) for f in keyed[:2]), bool(requirements)
    )
    pip = ".venv/bin/python -m pip install --disable-pip-version-check"
    installs = [f"{pip} --requirement {shlex.quote(f)}" for f in requirements] or [f"{pip} ."]
    return Toolchain(
        "python",
        image,
        (),
        (cache,),
        ("python -m venv .venv",),
        tuple(installs),
        (venv_bin,),
        (
            "requirements.txt is the lock: pin every version (pip-compile --generate-hashes adds hashes)."
            if requirements
            else "No lock file: this installs the project's unpinned dependencies; commit a lock so CI and "
            "the "
            "image install the same versions.",
        ),
    )


def _node(unit: Unit, image: str) -> Toolchain:
    manager = unit.lead.package_manager or "npm"
    locks = LOCKS.get(manager, ())
    if manager == "npm":
        cache = _cache(unit, "npm", ("npm_config_cache",), *locks, manifests=("package.json",))
        return Toolchain(
            "node",
            image,
            (),
            (cache,),
            (),
            ("npm ci --no-audit --no-fund" if cache.locked else "npm install --no-audit --no-fund",),
            (),
            (
                "npm ci installs exactly package-lock.json and fails if it disagrees with package.json."
                if cache.locked
                else "No package-lock.json: commit one so CI installs exactly it (npm ci).",
            ),
        )
    if manager == "bun":
        cache = _cache(unit, "bun", ("BUN_INSTALL_CACHE_DIR",), *locks, manifests=("package.json",))
        return Toolchain(
            "node",
            image,
            (),
            (cache,),
            (f'npm install --prefix {TOOLS_DIR} --no-audit --no-fund "bun@{TOOLS["bun"]}"',),
            ("bun install --frozen-lockfile",),
            (f"{TOOLS_DIR}/node_modules/.bin",),
        )
    variable = {"pnpm": "PNPM_STORE_DIR", "yarn": "YARN_CACHE_FOLDER"}.get(manager, "npm_config_cache")
    cache = _cache(unit, manager, (variable,), *locks, manifests=("package.json",))
    install = {
        "pnpm": 'pnpm install --frozen-lockfile --store-dir "${PNPM_STORE_DIR}"',
        "yarn": "yarn install --immutable",
    }.get(manager, f"{manager} install")
    corepack = f"{TOOLS_DIR}/node_modules/.bin/corepack"
    return Toolchain(
        "node",
        image,
        (),
        (cache,),
        (
            f'npm install --prefix {TOOLS_DIR} --no-audit --no-fund "corepack@{TOOLS["corepack"]}"',
            f"{corepack} enable --install-directory {TOOLS_DIR}/bin {manager}",
        ),
        (install,),
        (f"{TOOLS_DIR}/bin",),
        (
            f"Corepack (pinned, as in the Dockerfile) runs the {manager} version that package.json's "
            "packageManager field names.",
        ),
    )


def _go(unit: Unit, image: str) -> Toolchain:
    cache = _cache(unit, "go", ("GOMODCACHE",), "go.sum", manifests=("go.mod",))
    build = Cache("go-build", (("GOCACHE", "{dir}"),), cache.key_files, cache.locked)
    return Toolchain(
        "go",
        image,
        (),
        (cache, build),
        (),
        ("go mod download", "go mod verify"),
        (),
        ("go mod verify checks the downloaded modules against go.sum.",),
    )


def _jvm(unit: Unit, image: str) -> Toolchain:
    maven = unit.lead.package_manager == "maven" or "pom.xml" in unit.files
    if maven:
        keyed = (unit.file("pom.xml"),) if "pom.xml" in unit.files else ()
        cache = Cache("maven", (("MAVEN_ARGS", "--batch-mode -Dmaven.repo.local={dir}"),), keyed, False)
        return Toolchain(
            "jvm",
            image,
            (),
            (cache,),
            (),
            (),
            (),
            (
                "Maven has no lock file: the cache is keyed on pom.xml and dependencies resolve during the "
                "build.",
            ),
        )
    manifests = tuple(f for f in unit.files if f.startswith(("build.gradle", "settings.gradle")))
    cache = Cache(
        "gradle", (("GRADLE_USER_HOME", "{dir}"),), tuple(unit.file(f) for f in manifests[:2]), False
    )
    return Toolchain("jvm", image, (), (cache,), (), (), ())


def _ruby(unit: Unit, image: str) -> Toolchain:
    cache = _cache(unit, "bundle", ("BUNDLE_PATH",), "Gemfile.lock", manifests=("Gemfile",))
    env = (("BUNDLE_FROZEN", "true"),) if cache.locked else ()
    return Toolchain(
        "ruby",
        image,
        env,
        (cache,),
        (),
        ("bundle install --jobs 4",),
        (),
        ("BUNDLE_FROZEN installs exactly Gemfile.lock.",) if cache.locked else (),
    )


def _php(unit: Unit, image: str) -> Toolchain:
    del image  # the php CLI image has no composer; composer's image carries PHP and composer
    cache = _cache(unit, "composer", ("COMPOSER_CACHE_DIR",), "composer.lock", manifests=("composer.json",))
    return Toolchain(
        "php",
        COMPOSER_IMAGE,
        (),
        (cache,),
        (),
        ("composer install --no-interaction --no-progress --prefer-dist",),
        (),
        (f"{COMPOSER_IMAGE} runs composer on its own PHP line, which may be newer than the image's.",),
    )


def _dotnet(unit: Unit, image: str) -> Toolchain:
    cache = _cache(
        unit,
        "nuget",
        ("NUGET_PACKAGES",),
        "packages.lock.json",
        manifests=tuple(f for f in unit.files if f.endswith((".csproj", ".fsproj"))),
    )
    return Toolchain(
        "dotnet",
        image,
        (("DOTNET_CLI_TELEMETRY_OPTOUT", "1"),),
        (cache,),
        (),
        ("dotnet restore --locked-mode" if cache.locked else "dotnet restore",),
        (),
    )


def _rust(unit: Unit, image: str) -> Toolchain:
    cache = _cache(unit, "cargo", ("CARGO_HOME",), "Cargo.lock", manifests=("Cargo.toml",))
    return Toolchain(
        "rust",
        image,
        (),
        (cache,),
        (),
        ("cargo fetch --locked" if cache.locked else "cargo fetch",),
        (),
    )


def cache_env(tc: Toolchain, root: str) -> dict[str, str]:
    """The toolchain's environment, each cache variable pointing at `root`/.cache/<name>
    (`root`: the platform's workspace path, as the platform spells it)."""
    env = dict(tc.env)
    for cache in tc.caches:
        for variable, value in cache.variables:
            env[variable] = value.format(dir=f"{root}/{cache.folder}")
    return env


_BUILDERS: dict[str, Callable[[Unit, str], Toolchain]] = {
    "python": _python,
    "node": _node,
    "go": _go,
    "jvm": _jvm,
    "ruby": _ruby,
    "php": _php,
    "dotnet": _dotnet,
    "rust": _rust,
}


# -- tests and their reports -----------------------------------------------------------------------

JUNIT_DIR = "reports/junit"


@dataclass(frozen=True)
class TestRun:
    command: str
    reports: str | None  # a glob relative to the unit folder; None: the command writes none we know of
    note: str = ""


def test_runs(unit: Unit) -> list[TestRun]:
    """Each test command, changed (where its runner allows) to also write a JUnit report."""
    return [_junit(command) for command in test_commands(unit)]


def _junit(command: str) -> TestRun:
    name = re.sub(r"[^a-z0-9]+", "-", command.lower()).strip("-")[:40] or "tests"
    report = f"{JUNIT_DIR}/{name}.xml"
    if re.search(r"\bpytest\b", command) and "--junitxml" not in command:
        return TestRun(f"{command} --junitxml={report}", report)
    if re.match(r"go test\b", command):
        args = command[len("go test") :].strip() or "./..."
        return TestRun(
            f"go run {GOTESTSUM} --format testname --junitfile {report} -- {args}",
            report,
            "gotestsum runs `go test` and writes its results as JUnit XML.",
        )
    if re.search(r"\b(mvnw?|\./mvnw)\b", command):
        return TestRun(command, "target/surefire-reports/TEST-*.xml")
    if re.search(r"\bgradlew?\b", command):
        return TestRun(command, "build/test-results/test/TEST-*.xml")
    if re.search(r"\b(phpunit|artisan test|pest)\b", command):
        return TestRun(f"{command} --log-junit {report}", report)
    if re.match(r"bun test\b", command):
        return TestRun(f"{command} --reporter=junit --reporter-outfile={report}", report)
    return TestRun(
        command,
        None,
        f"`{command}` writes no JUnit report deploysmith knows of: make it write {JUNIT_DIR}/*.xml "
        "(node --test --test-reporter=junit, jest-junit, vitest --reporter=junit, rspec_junit_formatter, "
        "cargo2junit…) and the results are published.",
    )


def report_globs(unit: Unit) -> list[str]:
    """Repository-relative globs of the unit's test reports (the JUnit folder always, so a
    reporter the team adds is picked up)."""
    globs = [run.reports for run in test_runs(unit) if run.reports]
    globs.append(f"{JUNIT_DIR}/*.xml")
    return list(dict.fromkeys(unit.file(g) for g in globs))


def wait_for_port_lines(services: Mapping[str, Service], host: Callable[[str, Service], str]) -> list[str]:
    """Wait (bash, no extra tool) until each service accepts TCP connections."""
    lines = [
        "wait_for() {  # host, port: up to 100 seconds",
        "  for _ in $(seq 1 50); do",
        '    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi',
        "    sleep 2",
        "  done",
        '  echo "$1:$2 did not accept connections" >&2',
        "  return 1",
        "}",
    ]
    lines.extend(f"wait_for {host(name, service)} {service.port}" for name, service in services.items())
    return lines


# -- names ---------------------------------------------------------------------------------------------


def slug(name: str) -> str:
    value = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    return value if value and value[0].isalpha() else f"x-{value}"


def image_var(image: str) -> str:
    return "IMAGE_" + re.sub(r"[^A-Za-z0-9]+", "_", image).upper().strip("_")


def digest_var(image: str) -> str:
    return "DIGEST_" + re.sub(r"[^A-Za-z0-9]+", "_", image).upper().strip("_")


def major(version: str) -> int:
    match = re.match(r"\d+", version)
    return int(match.group(0)) if match else 0


def ere_escape(text: str) -> str:
    return re.sub(r"([.\[\](){}*+?|^$\\])", r"\\\1", text)


def script(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def wrap(text: str, width: int = 96) -> str:
    """Reflow prose into comment lines; a blank line separates paragraphs."""
    out: list[str] = []
    for paragraph in text.split("\n\n"):
        if out:
            out.append("")
        line = ""
        for word in paragraph.split():
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return "\n".join(out)


def stage_comment(stage: Stage, mechanism: str) -> str:
    """The comment above a stage's job: its failure policy and how the platform enforces it."""
    return (
        wrap(f"Stage {stage.name} ({stage.failure_policy}): {stage.policy}")
        + "\n"
        + wrap(f"Here: {mechanism}.")
    )


# -- how scripts report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """How a platform's scripts say error, warning and notice (shell lines)."""

    error: Callable[[str], str]
    warning: Callable[[str], str]
    notice: Callable[[str], str]


PLAIN = Dialect(
    error=lambda message: f'echo "error: {message}" >&2',
    warning=lambda message: f'echo "warning: {message}" >&2',
    notice=lambda message: f'echo "{message}"',
)


# -- registry and images -----------------------------------------------------------------------------


def pushed_refs_lines(
    ctx: Context, prefix: str, tag: str, refs_file: str, builder: str = "ci-builder"
) -> list[str]:
    """Build each image once, push it tagged with the commit, and record `IMAGE_<X>=repo@digest`
    lines in `refs_file` (what every later stage deploys). `prefix` and `tag` are shell
    expressions (e.g. "${IMAGE_PREFIX}", "${CI_COMMIT_SHA}")."""
    lines = [
        # Reuse the builder a persistent agent kept from an earlier run; create it otherwise.
        f"docker buildx use {builder} 2>/dev/null || docker buildx create --use --driver docker-container "
        f"--name {builder}",
        f': > "{refs_file}"',
    ]
    automation = flux.image_automation(ctx.plan)
    if automation:
        lines.append("built_at=\"$(date +%s)\"  # Flux image automation picks the newest main-<commit>-<time> tag")
    for image in ctx.images:
        repository = f"{prefix}/{image.name}"
        lines += [
            f"# {image.name}: built once; later stages deploy it by digest",
            f'docker buildx build --push --tag "{repository}:{tag}" \\',
            *([f'  --tag "{repository}:main-{tag}-${{built_at}}" \\'] if automation else []),
            f'  --cache-from "type=registry,ref={repository}:buildcache" \\',
            f'  --cache-to "type=registry,ref={repository}:buildcache,mode=max" \\',
            "  --provenance=mode=max --sbom=true \\",
            f"  --file {shlex.quote(image.dockerfile)} {shlex.quote(image.context)}",
            f'digest="$(docker buildx imagetools inspect "{repository}:{tag}" --format '
            f"'{{{{.Manifest.Digest}}}}')\"",
            f'echo "{image_var(image.name)}={repository}@${{digest}}" >> "{refs_file}"',
        ]
    lines.append(f'cat "{refs_file}"')
    return lines


def image_scan_lines(ctx: Context, trivy: str = "trivy") -> list[str]:
    """Block on critical/high findings in each pushed image (the image part of the policy)."""
    return [
        f"{trivy} image --scanners vuln --severity CRITICAL,HIGH --ignore-unfixed --exit-code 1 "
        f'"${{{image_var(i.name)}}}"'
        for i in ctx.images
    ]


FS_REPORT = "trivy-fs.json"


def fs_scan_lines(trivy: str = "trivy") -> list[str]:
    """The Security Scan: report every finding, then block on critical and high ones."""
    return [
        "# Every severity, as a report for review (dependencies from the lock files, secrets in the tree)",
        f"{trivy} fs --scanners vuln,secret --format json --output {FS_REPORT} .",
        "# The gate: exit code 1 on CRITICAL or HIGH with a fixed version available",
        f"{trivy} fs --scanners vuln,secret --severity CRITICAL,HIGH --ignore-unfixed --exit-code 1 .",
    ]


# -- deploy, wait, check, roll back ------------------------------------------------------------------


def pinned_path(plan: Plan, env: EnvironmentPlan) -> str:
    """What GitOps delivery commits the digests into (the OVERLAY variable of deploy jobs):
    the overlay folder, or the environment's values file with Helm."""
    return packaging.settings_path(plan, env.name)


def commands(ctx: Context, env: EnvironmentPlan) -> kustomize.DeployCommands:
    """The packaging's deploy commands (`render.packaging`) with each image taken from its
    `IMAGE_<X>` variable."""
    refs = {image.name: f'"${{{image_var(image.name)}}}"' for image in ctx.images}
    return packaging.deploy_commands(ctx.plan, env.name, image_refs=refs)


def deploy_lines(ctx: Context, env: EnvironmentPlan) -> list[str]:
    """Imperative deploy: pin the digests, migrate, apply, wait for the rollout."""
    if targets.is_target(ctx.plan):  # Cloud Run, ECS, Fly.io, …: the target's own commands
        return targets.ci_deploy_lines(ctx.plan, env)
    deploy = commands(ctx, env)
    pin = (
        f"# Pin this run's digests in the {packaging.settings_noun(ctx.plan)} (what passed the earlier stages "
        "is what runs)"
    )
    if not deploy.set_image:  # Helm: the digests are on its command line
        pin = "# Deploy this run's digests (what passed the earlier stages is what runs)"
    return [
        pin,
        *deploy.set_image,
        *(
            ["# Migrations run as a Job from the new image; the rollout waits for it", *deploy.migrate]
            if deploy.migrate
            else []
        ),
        *deploy.apply,
        *deploy.rollout,
    ]


def rollout_lines(ctx: Context, timeout: str | None = None) -> list[str]:
    if targets.is_target(ctx.plan):
        return targets.ci_verify_lines(ctx.plan)
    waits = progressive.ci_rollout_lines(ctx.plan, timeout)  # Argo Rollouts / Flagger: their own wait
    if waits is not None:
        return waits
    wait = timeout or kustomize.ROLLOUT_TIMEOUT
    return [
        f'kubectl --namespace "${{NAMESPACE}}" rollout status '
        f"deployment/{shlex.quote(k8s.name(w))} --timeout={wait}"
        for w in ctx.plan.workloads
    ]


def undo_lines(ctx: Context) -> list[str]:
    if targets.is_target(ctx.plan):
        return targets.ci_rollback_lines(ctx.plan)
    if ctx.plan.requirements.packaging == "helm":  # helm rollback (after an abort of a Rollout in progress)
        return helm.undo_lines(ctx.plan, {image.name: image_var(image.name) for image in ctx.images})
    undo = progressive.ci_undo_lines(ctx.plan, {image.name: image_var(image.name) for image in ctx.images})
    if undo is not None:  # Argo Rollouts: abort + undo
        return undo
    return [
        "# Only Deployments that run this run's image are undone; one this run did not change keeps",
        "# its revision.",
        "undo() {  # deployment, image reference this run deployed",
        "  local running",
        '  running="$(kubectl --namespace "${NAMESPACE}" get deployment "$1" \\',
        "    --output 'jsonpath={.spec.template.spec.containers[*].image}')\"",
        '  if [[ "${running}" == *"$2"* ]]; then',
        '    kubectl --namespace "${NAMESPACE}" rollout undo deployment "$1"',
        '    kubectl --namespace "${NAMESPACE}" rollout status deployment "$1" \\',
        f"      --timeout={kustomize.ROLLOUT_TIMEOUT}",
        "  fi",
        "}",
        *(f'undo {shlex.quote(k8s.name(w))} "${{{image_var(w.image)}}}"' for w in ctx.plan.workloads),
    ]


def smoke_lines(ctx: Context, env: EnvironmentPlan, dialect: Dialect) -> list[str]:
    """Check each web workload through the environment's public host, with retries."""
    probes: list[str] = []
    for workload in ctx.plan.workloads:
        if not k8s.serves_http(workload):
            continue
        host = kustomize.ingress_host(ctx.plan, workload, env)
        if host is None:
            continue
        if workload.probe.kind == "http":
            url = f"https://{host}{workload.probe.path or '/'}"
            probes.append(f"check {shlex.quote(url)}")
        else:
            probes.append(f"answers {shlex.quote(f'https://{host}/')}")
    if not probes:
        return [dialect.warning(f"{env.name} has no HTTP endpoint to check (no web workload with a host).")]
    check = [
        "check() {  # the health endpoint must answer 2xx",
        "  curl --fail --silent --show-error --location --output /dev/null --max-time 10 \\",
        "    --retry 10 --retry-delay 6 --retry-all-errors \\",
        "    --write-out '%{http_code} %{url_effective}\\n' \"$1\"",
        "}",
    ]
    answers = [
        "answers() {  # no health endpoint declared: any answer below 500 means the app serves",
        "  local status",
        '  status="$(curl --silent --show-error --location --output /dev/null --max-time 10 \\',
        '    --retry 10 --retry-delay 6 --retry-all-errors --write-out \'%{http_code}\' "$1")"',
        '  echo "${status} $1"',
        '  [[ "${status}" -gt 0 && "${status}" -lt 500 ]]',
        "}",
    ]
    used = {probe.split(" ", 1)[0] for probe in probes}
    return [*(check if "check" in used else []), *(answers if "answers" in used else []), *probes]


def git_identity_lines(name: str, email: str) -> list[str]:
    return [f'git config user.name "{name}"', f'git config user.email "{email}"']


def push_lines(
    dialect: Dialect, hint: str, push: str = "git push --quiet origin HEAD:refs/heads/main"
) -> list[str]:
    """Push to main, rebasing when main moved meanwhile (five attempts)."""
    return [
        "for attempt in 1 2 3 4 5; do",
        "  git fetch --quiet origin main",
        "  git rebase --quiet origin/main",
        f"  if {push}; then",
        "    break",
        "  fi",
        '  if [[ "${attempt}" == 5 ]]; then',
        "    " + dialect.error(f"could not push to main: {hint}"),
        "    exit 1",
        "  fi",
        '  echo "main moved while pushing (attempt ${attempt}); retrying"',
        "done",
    ]


GITOPS_CHECKOUT = ".gitops-env"  # the environment repository's clone (gitops_repo separate)


def env_repo_lines(dialect: Dialect) -> list[str]:
    """gitops_repo separate: clone the environment repository GITOPS_REPO next to this checkout
    and point every later `git` of the script at it (GIT_DIR and GIT_WORK_TREE, so the push and
    record lines stay the same; files the script writes still land in this checkout). GITOPS_PUSH_TOKEN is
    a token that may push there (username GITOPS_USERNAME, default x-access-token); without
    it, git uses the platform's own credentials (Jenkins' gitUsernamePassword binding)."""
    return [
        "# The overlays live in the environment repository: clone it, commit there, never here",
        'if [[ -z "${GITOPS_REPO:-}" ]]; then',
        "  " + dialect.error("set GITOPS_REPO to the https URL of the environment repository (DEPLOYMENT.md)."),
        "  exit 1",
        "fi",
        'author_name="$(git config user.name)"',
        'author_email="$(git config user.email)"',
        f'GITOPS_CHECKOUT="${{PWD}}/{GITOPS_CHECKOUT}"',
        'rm -rf -- "${GITOPS_CHECKOUT}"',
        'if [[ -n "${GITOPS_PUSH_TOKEN:-}" ]]; then',
        "  printf 'url=%s\\nusername=%s\\npassword=%s\\n\\n' \\",
        '    "${GITOPS_REPO}" "${GITOPS_USERNAME:-x-access-token}" "${GITOPS_PUSH_TOKEN}" \\',
        "    | git -c credential.helper='cache --timeout=900' credential approve",
        "fi",
        "git clone --quiet --config credential.helper='cache --timeout=900' --branch main \\",
        '  "${GITOPS_REPO}" "${GITOPS_CHECKOUT}"',
        'git -C "${GITOPS_CHECKOUT}" config user.name "${author_name}"',
        'git -C "${GITOPS_CHECKOUT}" config user.email "${author_email}"',
        "# Every later git command of this script works on the clone; pathspecs are relative to its",
        "# root, and files the script writes still land in this checkout",
        'export GIT_DIR="${GITOPS_CHECKOUT}/.git" GIT_WORK_TREE="${GITOPS_CHECKOUT}"',
    ]


def gitops_pin_lines(ctx: Context, env: EnvironmentPlan, dialect: Dialect) -> list[str]:
    """Pin this run's digests in the overlay CI commits: in this checkout, or (gitops_repo
    separate) in a fresh clone of the environment repository, where the publish lines commit."""
    pins = list(commands(ctx, env).set_image)
    if not gitops.separate(ctx.plan):
        return pins
    return [*env_repo_lines(dialect), *(pin.replace("(cd ", '(cd "${GITOPS_CHECKOUT}"/', 1) for pin in pins)]


def gitops_publish_lines(
    push: list[str], source_sha: str, skip: str = " [skip ci]", record: tuple[str, ...] = ()
) -> list[str]:
    """Commit the pinned overlay and push it; `push` is what push_lines returned. `record`
    runs after a push (e.g. keep the commit for the rollback), never when nothing changed."""
    return [
        'git add "${OVERLAY}"',
        "if git diff --cached --quiet; then",
        '  echo "These images are already pinned; nothing to commit."',
        "else",
        "  git commit --quiet --message \\",
        f'    "deploy(${{DEPLOY_TARGET}}): pin images built from {source_sha}{skip}"',
        *("  " + line for line in push),
        *("  " + line for line in record),
        "fi",
    ]


def gitops_wait_name(ctx: Context) -> str:
    """The name of the step that waits for the GitOps controller."""
    return f"Wait for {gitops.controller(ctx.plan)} to apply the commit"


def gitops_wait_lines(ctx: Context, env: EnvironmentPlan, dialect: Dialect) -> list[str]:
    """Wait, read-only, until the controller runs this run's digests."""
    minutes = GITOPS_WAIT_MINUTES[env.auto_deploy]
    app = argocd.application_name(ctx.plan, env)
    controller = gitops.controller(ctx.plan)
    lines: list[str] = []
    if not env.auto_deploy and not flux.enabled(ctx.plan):
        lines.append(
            dialect.notice(f"{app} syncs on request: press Sync in Argo CD (or run argocd app sync {app}).")
        )
    lines += [
        f"deadline=$((SECONDS + {minutes * 60}))",
        "wait_for() {  # deployment, image reference",
        '  until kubectl --namespace "${NAMESPACE}" get deployment "$1" \\',
        "      --output 'jsonpath={.spec.template.spec.containers[*].image}' \\",
        '      | grep --quiet --fixed-strings "$2"; do',
        "    if (( SECONDS >= deadline )); then",
        "      "
        + dialect.error(
            f"deployment/$1 does not run $2 after {minutes} minutes: is {controller} syncing ${{OVERLAY}}?"
        ),
        "      return 1",
        "    fi",
        "    sleep 15",
        "  done",
        "}",
        *(f'wait_for {shlex.quote(k8s.name(w))} "${{{image_var(w.image)}}}"' for w in ctx.plan.workloads),
    ]
    if flux.enabled(ctx.plan):
        kind = "helmrelease" if flux.helm(ctx.plan) else "kustomization"
        lines += [
            f"# Ready: Flux applied the commit and its health checks passed (get on {kind}s in "
            f"{flux.FLUX_NAMESPACE})",
            f"kubectl --namespace {flux.FLUX_NAMESPACE} wait "
            f"{kind}/{shlex.quote(flux.app_name(ctx.plan, env))} --for=condition=Ready "
            f"--timeout={minutes}m",
        ]
    return lines


def gitops_revert_lines(
    ctx: Context,
    env: EnvironmentPlan,
    dialect: Dialect,
    push: list[str],
    identity: list[str],
    skip: str = " [skip ci]",
) -> list[str]:
    """Roll back the GitOps way: revert the digest commit and push; the controller applies it."""
    app = argocd.application_name(ctx.plan, env)
    lines = [
        'if [[ -z "${DEPLOY_COMMIT}" ]]; then',
        "  " + dialect.error("no digest commit to revert; roll back by hand (see docs/deploy/RUNBOOK.md)."),
        "  exit 1",
        "fi",
        *identity,
        *(env_repo_lines(dialect) if gitops.separate(ctx.plan) else []),
        "git fetch --quiet origin main",
        "git checkout --quiet --detach origin/main",
        'git revert --no-commit "${DEPLOY_COMMIT}"',
        f'git commit --quiet --message "rollback(${{DEPLOY_TARGET}}): revert ${{DEPLOY_COMMIT}}{skip}"',
        *push,
    ]
    if not env.auto_deploy and not flux.enabled(ctx.plan):
        lines.append(dialect.warning(f"{app} syncs on request: press Sync in Argo CD to apply the rollback."))
    lines += [dialect.error("${DEPLOY_TARGET} failed its checks; the digest commit was reverted."), "exit 1"]
    return lines


def exec_credential_lines(helper: str, token_variable: str, comment_lines: list[str]) -> list[str]:
    """Write a kubectl exec-credential helper that hands kubectl the short-lived OIDC token in
    the environment variable `token_variable` (jq reads it from the environment: it is never
    on a command line, in a file or in the log)."""
    return [
        f'mkdir -p "$(dirname "{helper}")"',
        f"cat > \"{helper}\" <<'EOF'",
        "#!/usr/bin/env bash",
        *(f"# {line}" for line in comment_lines),
        "exec jq --null-input --compact-output \\",
        '  \'{apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", '
        f"status: {{token: env.{token_variable}}}}}'",
        "EOF",
        f'chmod 700 "{helper}"',
    ]


def kubeconfig_lines(helper: str, kubeconfig: str, user: str) -> list[str]:
    """A kubeconfig for KUBE_API_SERVER / KUBE_CA_DATA whose user runs `helper` for a token."""
    return [
        'if [[ -z "${KUBE_API_SERVER:-}" || -z "${KUBE_CA_DATA:-}" ]]; then',
        '  echo "error: set KUBE_API_SERVER and KUBE_CA_DATA for the ${DEPLOY_ENVIRONMENT} environment '
        '(docs/deploy/DEPLOYMENT.md)" >&2',
        "  exit 1",
        "fi",
        f'ca="$(dirname "{kubeconfig}")/kube-ca.crt"',
        'printf \'%s\' "${KUBE_CA_DATA}" | base64 -d > "${ca}"',
        f'export KUBECONFIG="{kubeconfig}"',
        'kubectl config set-cluster target --server="${KUBE_API_SERVER}" --certificate-authority="${ca}" '
        "--embed-certs=true",
        f"kubectl config set-credentials {user} --exec-api-version=client.authentication.k8s.io/v1 \\",
        f'  --exec-command="{helper}" --exec-interactive-mode=Never',
        f"kubectl config set-context target --cluster=target --user={user}",
        "kubectl config use-context target",
    ]


def approval_summary_lines(ctx: Context, what: str) -> list[str]:
    """What waits for approval: the digests that passed the earlier stages."""
    return [
        f'echo "Deploy Prod starts when {what} approves it. It deploys these images, the ones that passed '
        'the earlier stages:"',
        *(f'echo "  ${{{image_var(image.name)}}}"' for image in ctx.images),
    ]


__all__ += [
    "APPROVAL_WAIT_HOURS",
    "BARE_IMAGE",
    "GITOPS_WAIT_MINUTES",
    "Cache",
    "Context",
    "DEPLOY_IMAGE",
    "DIND_IMAGE",
    "DOCKER_IMAGE",
    "Dialect",
    "FS_REPORT",
    "GOTESTSUM",
    "IMAGES_CHECKED",
    "JUNIT_DIR",
    "KUBE_AUDIENCE",
    "LOCKS",
    "MAIN",
    "PLAIN",
    "PROD_ENVIRONMENT",
    "SERVICES",
    "SERVICES_CHECKED",
    "Service",
    "TIMEOUTS",
    "TOOLS_DIR",
    "TRIVY_IMAGE",
    "TestRun",
    "Toolchain",
    "Unit",
    "approval_summary_lines",
    "build_commands",
    "cache_env",
    "commands",
    "deploy_lines",
    "digest_var",
    "ere_escape",
    "exec_credential_lines",
    "family",
    "first",
    "fs_scan_lines",
    "git_identity_lines",
    "GITOPS_CHECKOUT",
    "env_repo_lines",
    "gitops_pin_lines",
    "gitops_publish_lines",
    "gitops_wait_name",
    "gitops_revert_lines",
    "gitops_wait_lines",
    "header_lines",
    "image_scan_lines",
    "image_var",
    "in_workspace",
    "kubeconfig_lines",
    "lint_commands",
    "major",
    "push_lines",
    "pushed_refs_lines",
    "report_globs",
    "rollout_lines",
    "script",
    "slug",
    "smoke_lines",
    "stage_comment",
    "test_commands",
    "test_runs",
    "toolchain",
    "undo_lines",
    "wait_for_port_lines",
    "wrap",
]
