"""Python: pip, Poetry, uv, Pipenv, PDM; Django (+ Celery), FastAPI, Flask, other ASGI/WSGI apps.

Reads manifests as TOML/text and source files as text; never imports the project.

Start commands run from the component's folder, as in a container whose working directory
is the build context ("gunicorn config.wsgi:application --bind 0.0.0.0:8000"); a src
layout adds `--app-dir src` / `--chdir src`.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from deploysmith.detect import common
from deploysmith.detect.base import Detection, Strength
from deploysmith.detect.common import Facts
from deploysmith.model import Component, ComponentKind, Evidence
from deploysmith.repo import Repo, join

MARKERS: tuple[str, ...] = ("pyproject.toml", "requirements*.txt", "Pipfile", "setup.py", "manage.py")

_MANIFESTS = ("pyproject.toml", "requirements.txt", "Pipfile", "setup.py")
_ENTRY_NAMES = ("main", "app", "asgi", "wsgi", "server", "api", "application", "__init__", "run", "manage")
# fmt: off
_SERVICE_DEPS = {
    "psycopg": "postgres", "psycopg2": "postgres", "psycopg2-binary": "postgres",
    "psycopg-binary": "postgres", "asyncpg": "postgres", "pg8000": "postgres",
    "pymysql": "mysql", "mysqlclient": "mysql", "aiomysql": "mysql", "mysql-connector-python": "mysql",
    "redis": "redis", "aioredis": "redis", "django-redis": "redis", "pymongo": "mongodb",
    "motor": "mongodb", "mongoengine": "mongodb", "beanie": "mongodb", "pika": "rabbitmq",
    "aio-pika": "rabbitmq", "kafka-python": "kafka", "confluent-kafka": "kafka", "aiokafka": "kafka",
    "elasticsearch": "elasticsearch", "opensearch-py": "elasticsearch", "pymemcache": "memcached",
    "python-memcached": "memcached", "pylibmc": "memcached", "nats-py": "nats",
}
# fmt: on
_ASGI_SERVERS = ("uvicorn", "hypercorn", "granian", "daphne")
_WSGI_SERVERS = ("gunicorn", "waitress", "uwsgi")
# Constructors of app objects of other frameworks: (framework, speaks ASGI).
_APP_CLASSES = {
    "Starlette": ("starlette", True),
    "Litestar": ("litestar", True),
    "Quart": ("quart", True),
    "Sanic": ("sanic", True),
    "Bottle": ("bottle", False),
}


@dataclass
class _Project:
    directory: str
    deps: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)  # name → (file, extras)
    pyproject: dict[str, Any] = field(default_factory=dict)
    requirement_files: list[str] = field(default_factory=list)  # with their -r/-c includes
    installs_itself: bool = False  # a requirements file installs the project (`-e .`)

    def has(self, *names: str) -> str | None:
        return next((name for name in names if name in self.deps), None)

    def dep_evidence(self, repo: Repo, name: str, default: bool = False) -> Evidence:
        rel = self.deps[name][0]
        return repo.evidence(rel, common.dep_pattern(name), default=default)


def detect(repo: Repo, directory: str) -> Detection | None:
    project = _read_project(repo, directory)
    if project is None:
        return None
    facts = Facts()
    _package_manager(repo, project, facts)
    _language_version(repo, project, facts)
    sources = common.source_files(repo, directory, (".py",), _ENTRY_NAMES)
    strength, kind, extra = _framework(repo, project, sources, facts)
    _test_and_lint(repo, project, facts)
    _services(repo, project, sources, facts)
    _migrations(repo, project, facts)
    main = facts.component(directory, kind, "python")
    return Detection(components=(main, *_workers(main, extra)), strength=strength)


# -- manifests ----------------------------------------------------------------------------


def _read_project(repo: Repo, directory: str) -> _Project | None:
    names = common.names_in(repo, directory)
    requirement_files = sorted(
        (n for n in names if re.fullmatch(r"requirements.*\.txt", n)),
        key=lambda n: (n != "requirements.txt", n),
    )
    requirement_files += [
        f"requirements/{n}"
        for n in sorted(common.names_in(repo, join(directory, "requirements")))
        if n.endswith(".txt")
    ]
    manifests = [n for n in ("pyproject.toml", "Pipfile", "setup.py") if n in names]
    if not manifests and not requirement_files:
        # A manage.py alone belongs to the project of the nearest manifest above it.
        above = directory != "." and common.find_upwards(repo, common.parent(directory), _MANIFESTS)
        if "manage.py" not in names or above:
            return None
    project = _Project(directory)
    if "pyproject.toml" in names:
        project.pyproject = repo.load_toml(join(directory, "pyproject.toml")) or {}
        _pyproject_deps(project, join(directory, "pyproject.toml"))
    if "Pipfile" in names:
        pipfile = repo.load_toml(join(directory, "Pipfile")) or {}
        for table in ("packages", "dev-packages"):
            for name in _table(pipfile, table):
                _add(project, name, join(directory, "Pipfile"))
    for name in requirement_files:
        _requirements(repo, project, join(directory, name), depth=0)
    if "setup.py" in names:
        _setup_py(repo, project, join(directory, "setup.py"))
    return project


def _table(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def _add(project: _Project, requirement: str, rel: str) -> None:
    match = _REQ_NAME.match(requirement)
    if not match:
        return
    name = re.sub(r"[-_.]+", "-", match.group(1).lower())
    if name == "python":
        return
    extras = frozenset(e.strip().lower() for e in (match.group(2) or "").split(",") if e.strip())
    old = project.deps.get(name)
    project.deps[name] = (old[0] if old else rel, extras | (old[1] if old else frozenset()))


def _pyproject_deps(project: _Project, rel: str) -> None:
    data = project.pyproject
    groups: list[Any] = [_table(data, "project").get("dependencies")]
    groups += list(_table(data, "project", "optional-dependencies").values())
    groups += list(_table(data, "dependency-groups").values())
    groups.append(_table(data, "tool", "uv").get("dev-dependencies"))
    groups += list(_table(data, "tool", "pdm", "dev-dependencies").values())
    for group in groups:
        for item in group if isinstance(group, list) else []:
            if isinstance(item, str):
                _add(project, item, rel)
    poetry = _table(data, "tool", "poetry")
    tables = [_table(poetry, "dependencies"), _table(poetry, "dev-dependencies")]
    tables += [_table(group, "dependencies") for group in _table(poetry, "group").values()]
    for table in tables:
        for name in table:
            _add(project, name, rel)


_LOCAL_PATH = re.compile(r"^(?:(?:-e|--editable)[=\s]+)?(?:file:)?(\.{1,2}(?:/\S*)?)(?:\[[^\]]*\])?$")
_DEV_ONLY = re.compile(r"dev|test|lint|doc")  # requirements files the image does not install
_URL_CREDENTIALS = re.compile(r"^(?:-i|--index-url|--extra-index-url|-f|--find-links)[=\s]+\S*://[^/\s]+@")


def _requirements(repo: Repo, project: _Project, rel: str, depth: int) -> None:
    """A requirements file and, recursively, the files it includes with -r/-c (resolved
    relative to the including file, as pip does)."""
    text = repo.read_text(rel)
    if text is None or rel in project.requirement_files or depth > 3:
        return
    project.requirement_files.append(rel)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        include = re.match(r"^(?:-r|--requirement|-c|--constraint)[=\s]+(\S+)", line)
        local = _LOCAL_PATH.match(line)
        if include:
            target = posixpath.normpath(join(common.parent(rel), include.group(1)))
            if target.startswith("../"):
                warning = f"{rel}:{number}: includes {include.group(1)}, outside the repository"
                common.build_warning(repo, project.directory, warning)
            else:
                _requirements(repo, project, target, depth + 1)
        elif local and _DEV_ONLY.search(rel.rsplit("/", 1)[-1]):
            continue  # only CI installs it, from a checkout that has the source
        elif local:
            target = posixpath.normpath(join(common.parent(rel), local.group(1)))
            if target == project.directory:
                project.installs_itself = True
            common.build_warning(
                repo, project.directory,
                f"{rel}:{number}: installs the local path {local.group(1)}; the image's dependency layer "
                "is installed before the source is copied, so pip cannot build it there: install it "
                "after the source instead (e.g. `pip install --no-deps .`)"
            )
        elif _URL_CREDENTIALS.match(line):
            common.build_warning(
                repo, project.directory,
                f"{rel}:{number}: a package-index URL with credentials; they end up in the image with "
                "this file: use a BuildKit secret (e.g. PIP_INDEX_URL from RUN --mount=type=secret)"
            )
        elif line.startswith("-e") and "#egg=" in line:
            _add(project, line.split("#egg=", 1)[1], rel)
        elif line and not line.startswith(("-", "#")) and "://" not in line.split("@")[0]:
            _add(project, line, rel)


def _setup_py(repo: Repo, project: _Project, rel: str) -> None:
    text = repo.read_text(rel) or ""
    match = re.search(r"install_requires\s*=\s*\[(.*?)\]", text, re.S)
    for requirement in re.findall(r"[\"']([^\"']+)[\"']", match.group(1) if match else ""):
        _add(project, requirement, rel)


# -- package manager and version ---------------------------------------------------------

_LOCKS = {"uv": "uv.lock", "poetry": "poetry.lock", "pdm": "pdm.lock", "pipenv": "Pipfile.lock"}


def _package_manager(repo: Repo, project: _Project, facts: Facts) -> None:
    d = project.directory
    names = set(common.names_in(repo, d))
    tool = _table(project.pyproject, "tool")
    pyproject = join(d, "pyproject.toml")
    uv_root = _uv_workspace_lock(repo, d)
    found: list[tuple[str, Evidence]] = [
        (manager, common.file_evidence(join(d, lock))) for manager, lock in _LOCKS.items() if lock in names
    ]
    found += [
        (manager, repo.evidence(pyproject, re.compile(rf"^\[tool\.{manager}[.\]]")))
        for manager in ("uv", "poetry", "pdm")
        if manager in tool
    ]
    if uv_root is not None:
        found.append(("uv", common.file_evidence(uv_root)))
    if "Pipfile" in names:
        found.append(("pipenv", common.file_evidence(join(d, "Pipfile"))))
    if project.requirement_files:
        found.append(("pip", common.file_evidence(project.requirement_files[0])))
    for name in ("pyproject.toml", "setup.py"):
        if name in names:
            found.append(("pip", common.file_evidence(join(d, name))))
    if not found:
        return
    manager = found[0][0]
    facts.set("package_manager", manager, found[0][1])
    if manager == "uv" and uv_root is not None and "uv.lock" not in names:
        warning = common.outside_warning(d, [uv_root], "uv sync") + " (the install is not locked)"
        common.build_warning(repo, d, warning)
    files = _dependency_files(repo, project, manager)
    facts.set("dependency_files", files or None, *[common.file_evidence(join(d, n)) for n in files])
    if ".pypirc" in names:
        warning = common.credential_warning(join(d, ".pypirc"), "package-index credentials")
        common.build_warning(repo, d, warning)


# Project configuration each tool reads besides pyproject.toml and its lock (index URLs, …).
_TOOL_CONFIG = {"uv": ("uv.toml",), "poetry": ("poetry.toml",), "pdm": ("pdm.toml",)}
_TOML_CREDENTIALS = re.compile(r"^\s*(password|token)\s*=", re.M)


def _dependency_files(repo: Repo, project: _Project, manager: str) -> list[str]:
    """What the manager's install reads, relative to the folder: pipenv's Pipfile and lock;
    pyproject.toml, the lock and the tool's config for uv, Poetry and PDM (and uv's
    .python-version, which picks the interpreter; a workspace's member manifests); for pip,
    the requirements files with their -r/-c includes (pyproject.toml or setup.py only when
    nothing else lists the dependencies)."""
    d = project.directory
    if manager == "pipenv":
        return common.present(repo, d, ("Pipfile", "Pipfile.lock"))
    if manager in _LOCKS:
        config = []
        for name in _TOOL_CONFIG.get(manager, ()):
            found = _TOML_CREDENTIALS.search(repo.read_text(join(d, name)) or "")
            if found is not None:
                what = f"credentials ({found.group(1)})"
                common.build_warning(repo, d, common.credential_warning(join(d, name), what))
            else:
                config.append(name)
        files = common.present(repo, d, ("pyproject.toml", _LOCKS[manager], *config))
        if manager == "uv":
            files += _uv_install_files(repo, project)
        return files
    inside = [rel for rel in project.requirement_files if common.inside(d, rel)]
    outside = [rel for rel in project.requirement_files if rel not in inside]
    if outside:
        common.build_warning(repo, d, common.outside_warning(d, outside, "pip install -r"))
    files = [common.relative(d, rel) for rel in inside]
    if project.installs_itself or not files:
        files += common.present(repo, d, ("pyproject.toml", "setup.py", "setup.cfg"))
    return files


def _uv_install_files(repo: Repo, project: _Project) -> list[str]:
    """.python-version (uv picks the interpreter from it) and, at a workspace root, every
    member's pyproject.toml (`uv sync --locked` checks the lock against all of them)."""
    d = project.directory
    files = common.present(repo, d, (".python-version",))
    pin = re.match(r"\s*(\d+\.\d+\.\d+)\s*$", repo.read_text(join(d, ".python-version")) or "")
    if files and pin:
        common.build_warning(
            repo, d,
            f"{join(d, '.python-version')}: pins Python {pin.group(1)} exactly; uv in the image only "
            f"uses that patch release, which the {common.minor_version(pin.group(1))} base image may not "
            "have: pin the minor version instead"
        )
    workspace = _table(project.pyproject, "tool", "uv", "workspace")
    members = [m for m in workspace.get("members") or [] if isinstance(m, str)]
    excluded = [e for e in workspace.get("exclude") or [] if isinstance(e, str)]
    for pattern in members:
        for rel in repo.glob(join(d, pattern.strip("/")) + "/pyproject.toml"):
            inner = common.relative(d, posixpath.dirname(rel))
            if not any(fnmatch.fnmatchcase(inner, e.strip("/")) for e in excluded):
                files.append(common.relative(d, rel))
    return list(dict.fromkeys(files))


def _uv_workspace_lock(repo: Repo, directory: str) -> str | None:
    """The uv.lock of a uv workspace that lists `directory` as a member."""
    for folder in list(common.ancestors(directory))[1:]:
        if not repo.exists(join(folder, "uv.lock")) or not repo.exists(join(folder, "pyproject.toml")):
            continue
        members = _table(repo.load_toml(join(folder, "pyproject.toml")), "tool", "uv", "workspace")
        inner = common.relative(folder, directory)
        for pattern in members.get("members") or []:
            regex = re.escape(str(pattern).strip("/")).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
            if re.fullmatch(regex, inner):
                return join(folder, "uv.lock")
    return None


def _language_version(repo: Repo, project: _Project, facts: Facts) -> None:
    """Pins in the folder, then pins above it (a monorepo's root), then manifest ranges."""
    d = project.directory
    for folder in common.ancestors(d):
        for name in (".python-version", "runtime.txt", ".tool-versions"):
            rel = join(folder, name)
            if (name == "runtime.txt" and folder != d) or not repo.exists(rel):
                continue
            text = repo.read_text(rel) or ""
            pattern = r"^python\s+(\S+)" if name == ".tool-versions" else r"^\s*(?:python-)?([^\s#]+)"
            match = re.search(pattern, text, re.M)
            if match and common.minor_version(match.group(1)):
                evidence = common.evidence_at(rel, text, match.start(1))
                facts.set("language_version", common.minor_version(match.group(1)), evidence)
                return
    pipfile = (
        _table(repo.load_toml(join(d, "Pipfile")), "requires") if repo.exists(join(d, "Pipfile")) else {}
    )
    pyproject = join(d, "pyproject.toml")
    specs = [
        (join(d, "Pipfile"), r"^python_(?:full_)?version\s*=", pipfile.get("python_version")),
        (join(d, "Pipfile"), r"^python_full_version\s*=", pipfile.get("python_full_version")),
        (pyproject, r"^requires-python\s*=", _table(project.pyproject, "project").get("requires-python")),
        (
            pyproject,
            r"^python\s*=",
            _table(project.pyproject, "tool", "poetry", "dependencies").get("python"),
        ),
    ]
    for rel, pattern, spec in specs:
        if isinstance(spec, str) and common.minor_version(spec):
            facts.set("language_version", common.minor_version(spec), repo.evidence(rel, re.compile(pattern)))
            return


# -- frameworks and start commands --------------------------------------------------------


@dataclass(frozen=True)
class _Worker:
    suffix: str
    start_command: str
    evidence: Evidence


def _framework(
    repo: Repo, project: _Project, sources: list[str], facts: Facts
) -> tuple[Strength, ComponentKind, list[_Worker]]:
    """Sets framework, start_command and port; returns (strength, kind, extra processes)."""
    workers = _celery(repo, project, sources)
    if _django(repo, project, sources, facts):
        return Strength.APP, "web", workers
    for name, finder in (("fastapi", _fastapi), ("flask", _flask), ("streamlit", _streamlit)):
        if project.has(name) and finder(repo, project, sources, facts):
            return Strength.APP, "web", workers
    if _generic_app(repo, project, sources, facts):
        return Strength.APP, "web", workers
    if _script(repo, project, sources, facts):
        return Strength.RUNNABLE, "web" if facts.get("port") else "worker", workers
    return Strength.TOOLING, "web", workers


def _module(directory: str, rel: str) -> tuple[str, str | None]:
    """("pkg.main", app_dir) for a source file; app_dir is "src" for a src layout."""
    inner = common.relative(directory, rel)[: -len(".py")]
    app_dir = None
    if inner.startswith("src/"):
        inner, app_dir = inner[len("src/") :], "src"
    parts = inner.split("/")
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts), app_dir


def _find_object(repo: Repo, sources: list[str], constructor: str) -> tuple[str, str, Evidence, bool] | None:
    """(file, variable, evidence, is_factory) for a module-level `x = Constructor(` or a
    `def create_app(` factory in a file that uses the constructor."""
    assign = re.compile(rf"^(\w+)\s*(?::\s*[\w.]+\s*)?=\s*(?:\w+\.)?{constructor}\(", re.M)
    found = common.first(repo, sources, assign)
    if found:
        rel, match, evidence = found
        return rel, match.group(1), evidence, False
    factory = re.compile(r"^(?:async\s+)?def\s+(create_app|make_app|get_app|app_factory)\s*\(", re.M)
    for rel, match, evidence in common.search(repo, sources, factory):
        if f"{constructor}(" in (repo.read_text(rel) or ""):
            return rel, match.group(1), evidence, True
    return None


_CODE_PORT = re.compile(
    r"""(?:\.run\(.*?\bport\s*=\s*|["']PORT["']\s*,\s*["']?|^\s*bind\s*=\s*["'][^"']*:)(\d{2,5})\b""", re.M
)


def _port(
    repo: Repo, project: _Project, files: list[str], facts: Facts, server: str | None, default: int
) -> int:
    """The port from code or gunicorn.conf.py, else the server's convention (marked default)."""
    config = [join(project.directory, n) for n in ("gunicorn.conf.py", "gunicorn_config.py")]
    found = common.first(repo, [*config, *files], _CODE_PORT)
    if found:
        facts.set("port", int(found[1].group(1)), found[2])
        return int(found[1].group(1))
    if server and server in project.deps:
        facts.set("port", default, project.dep_evidence(repo, server, default=True))
    else:
        basis = facts.evidence.get("framework") or [common.file_evidence(files[0] if files else "")]
        facts.set("port", default, *[Evidence(e.file, e.line, e.text, default=True) for e in basis])
    return default


def _server(project: _Project, asgi: bool) -> str | None:
    """The production server the project depends on; gunicorn runs ASGI apps through
    uvicorn's worker class when both are there."""
    if asgi and project.has("gunicorn") and project.has("uvicorn", "uvicorn-worker"):
        return "gunicorn"
    return project.has(*_ASGI_SERVERS) if asgi else project.has(*_WSGI_SERVERS)


def _serve(
    repo: Repo,
    project: _Project,
    app: tuple[str, str, bool],
    app_dir: str | None,
    asgi: bool,
    files: list[str],
    facts: Facts,
    dev_server: tuple[str, int] | None = None,
) -> None:
    """Start command for the app `(module, variable, is_factory)` with the server the
    project depends on; without one, the framework's own server (`dev_server`: a command
    with a {port} slot and its default port) and a warning."""
    module, variable, factory = app
    server = _server(project, asgi)
    if server is None and asgi and "standard" in project.deps.get("fastapi", ("", frozenset()))[1]:
        server = "uvicorn"  # fastapi[standard] brings uvicorn
    evidence = list(facts.evidence.get("framework", []))
    if server is None and dev_server is not None:
        repo.warnings.append(
            f"{project.directory}: no production server (gunicorn, uvicorn) in the dependencies; "
            "the start command uses the framework's development server"
        )
        port = _port(repo, project, files, facts, None, dev_server[1])
        facts.set("start_command", dev_server[0].format(port=port), *evidence)
        return
    if server is None:
        server = "uvicorn" if asgi else "gunicorn"
        repo.warnings.append(
            f"{project.directory}: {server} is not in the dependencies; the start command assumes it — add it"
        )
    elif server in project.deps:
        evidence.append(project.dep_evidence(repo, server))
    port = _port(repo, project, files, facts, server, 8080 if server == "waitress" else 8000)
    call = "()" if factory and server in ("gunicorn", "hypercorn", "waitress") else ""
    target = f"{module}:{variable}{call}"
    interface = "asgi" if asgi else "wsgi"
    command = {
        "uvicorn": f"uvicorn {target} --host 0.0.0.0 --port {port}",
        "hypercorn": f"hypercorn {target} --bind 0.0.0.0:{port}",
        "granian": f"granian --interface {interface} --host 0.0.0.0 --port {port} {target}",
        "daphne": f"daphne -b 0.0.0.0 -p {port} {target}",
        "gunicorn": f"gunicorn {target} --bind 0.0.0.0:{port}",
        "waitress": f"waitress-serve --listen=0.0.0.0:{port} {target}",
        "uwsgi": f"uwsgi --http 0.0.0.0:{port} --module {target}",
    }[server]
    if server == "gunicorn" and asgi:
        worker = (
            "uvicorn.workers.UvicornWorker" if "uvicorn" in project.deps else "uvicorn_worker.UvicornWorker"
        )
        command += f" -k {worker}"
    if factory and server in ("uvicorn", "granian"):
        command += " --factory"
    if app_dir and server in ("uvicorn", "gunicorn"):
        command += f" --app-dir {app_dir}" if server == "uvicorn" else f" --chdir {app_dir}"
    facts.set("start_command", command, *evidence)


def _fastapi(repo: Repo, project: _Project, sources: list[str], facts: Facts) -> bool:
    return _framework_app(repo, project, sources, facts, ("fastapi", "FastAPI"), asgi=True)


def _flask(repo: Repo, project: _Project, sources: list[str], facts: Facts) -> bool:
    return _framework_app(repo, project, sources, facts, ("flask", "Flask"), asgi=False)


def _framework_app(
    repo: Repo, project: _Project, sources: list[str], facts: Facts, names: tuple[str, str], asgi: bool
) -> bool:
    framework, constructor = names
    found = _find_object(repo, sources, constructor)
    facts.set("framework", framework, found[2] if found else project.dep_evidence(repo, framework))
    if found is None:
        return True  # the framework is a dependency, but where the app object lives is unknown
    rel, variable, _, factory = found
    module, app_dir = _module(project.directory, rel)
    dev = None
    if framework == "flask":
        app = f"{module}:{variable}{'()' if factory else ''}"
        dev = (f"flask --app {app} run --host 0.0.0.0 --port {{port}}", 5000)
    files = [rel, *[s for s in sources if s != rel]]
    _serve(repo, project, (module, variable, factory), app_dir, asgi, files, facts, dev)
    _health(repo, files, facts)
    return True


def _streamlit(repo: Repo, project: _Project, sources: list[str], facts: Facts) -> bool:
    found = common.first(repo, sources, re.compile(r"^import streamlit|^from streamlit import", re.M))
    if found is None:
        return False
    rel = common.relative(project.directory, found[0])
    facts.set("framework", "streamlit", found[2])
    port = _port(repo, project, [], facts, "streamlit", 8501)
    command = f"streamlit run {rel} --server.port {port} --server.address 0.0.0.0"
    facts.set("start_command", command, found[2])
    return True


def _generic_app(repo: Repo, project: _Project, sources: list[str], facts: Facts) -> bool:
    """Another ASGI/WSGI framework (Starlette, Litestar, …) served by a server it depends on."""
    server = project.has(*_ASGI_SERVERS, *_WSGI_SERVERS)
    if server is None:
        return False
    pattern = re.compile(r"^(app|application|api|server)\s*(?::\s*[\w.]+\s*)?=\s*(?:\w+\.)*(\w+)\(", re.M)
    for rel, match, evidence in common.search(repo, sources[:20], pattern):
        framework, asgi = _APP_CLASSES.get(match.group(2), (None, server in _ASGI_SERVERS))
        if framework:
            facts.set("framework", framework, evidence)
        module, app_dir = _module(project.directory, rel)
        files = [rel, *[s for s in sources if s != rel]]
        _serve(repo, project, (module, match.group(1), False), app_dir, asgi, files, facts)
        if not framework:
            facts.evidence["start_command"].insert(0, evidence)
        _health(repo, files, facts)
        return True
    return False


def _script(repo: Repo, project: _Project, sources: list[str], facts: Facts) -> bool:
    """A script run directly: `python main.py` or `python -m pkg`. A package that publishes
    console scripts is a command-line tool, not a service."""
    if _table(project.pyproject, "project", "scripts") or _table(
        project.pyproject, "tool", "poetry", "scripts"
    ):
        return False
    main_guard = re.compile(r"^if\s+__name__\s*==\s*[\"']__main__[\"']\s*:", re.M)
    for rel in sources[:20]:
        inner = common.relative(project.directory, rel)
        if inner.endswith("/__main__.py"):
            package = inner[: -len("/__main__.py")].removeprefix("src/").replace("/", ".")
            facts.set("start_command", f"python -m {package}", common.file_evidence(rel))
        elif "/" not in inner and inner != "manage.py" and main_guard.search(repo.read_text(rel) or ""):
            facts.set("start_command", f"python {inner}", repo.evidence(rel, main_guard))
        else:
            continue
        found = common.first(repo, [rel], _CODE_PORT)
        if found:
            facts.set("port", int(found[1].group(1)), found[2])
        return True
    return False


# -- Django and Celery ---------------------------------------------------------------------

_SETTINGS = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""")


def _django(repo: Repo, project: _Project, sources: list[str], facts: Facts) -> bool:
    d = project.directory
    manage = next((rel for rel in sources if rel.rsplit("/", 1)[-1] == "manage.py"), None)
    found = common.first(repo, [manage], _SETTINGS) if manage else None
    if found is None and not project.has("django"):
        return False
    facts.set("framework", "django", found[2] if found else project.dep_evidence(repo, "django"))
    base = common.parent(manage) if manage else d  # where manage.py runs from
    app_dir = common.relative(d, base) if base != d else None
    package = found[1].group(1).split(".")[0] if found else None
    wsgi = _django_module(repo, base, package, "wsgi", "get_wsgi_application")
    asgi = _django_module(repo, base, package, "asgi", "get_asgi_application")
    package = package or (wsgi or asgi or "").split(".")[0] or None
    wants_asgi = project.has("channels", "daphne") or (
        _server(project, asgi=False) is None and project.has(*_ASGI_SERVERS) is not None
    )
    module = asgi if wants_asgi and asgi else wsgi
    run = f"python {common.relative(d, manage)}" if manage else None
    if module is not None:
        files = [join(base, module.replace(".", "/") + ".py")]
        dev = (f"{run} runserver 0.0.0.0:{{port}}", 8000) if run else None
        _serve(repo, project, (module, "application", False), app_dir, module == asgi, files, facts, dev)
    if package:
        _django_health(repo, join(base, f"{package}/urls.py"), facts)
    if run:
        facts.set("migrate_command", f"{run} migrate --noinput", *facts.evidence["framework"])
        facts.set("migration_tool", "django", *facts.evidence["framework"])
        facts.set("test_command", f"{run} test", common.file_evidence(manage or ""))
    return True


def _django_module(repo: Repo, base: str, package: str | None, name: str, marker: str) -> str | None:
    if package and repo.exists(join(base, f"{package}/{name}.py")):
        return f"{package}.{name}"
    candidates = [rel for rel in common.source_files(repo, base, (f"/{name}.py",), limit=10)]
    found = common.first(repo, candidates, re.compile(marker))
    return _module(base, found[0])[0] if found else None


def _django_health(repo: Repo, urls: str, facts: Facts) -> None:
    """Health routes in the root URLconf (paths of included URLconfs are not resolved)."""
    route = re.compile(rf"""(?:re_)?path\(\s*r?["']\^?({common.HEALTH_PATH_RE[1:]})\$?["']""")
    include = re.compile(r"""(?:re_)?path\(\s*r?["']\^?([\w/-]*)\$?["']\s*,\s*include\(\s*["']health_check""")
    found = [(f"/{m.group(1)}", ev) for _, m, ev in common.search(repo, [urls], route)]
    found += [(f"/{m.group(1)}", ev) for _, m, ev in common.search(repo, [urls], include)]
    best = common.best_health(found)
    if best:
        facts.set("health_path", best[0], best[1])


def _celery(repo: Repo, project: _Project, sources: list[str]) -> list[_Worker]:
    if not project.has("celery"):
        return []
    ordered = sorted(sources, key=lambda rel: not rel.endswith(("celery.py", "celery_app.py", "worker.py")))
    found = common.first(repo, ordered, re.compile(r"^(\w+)\s*=\s*(?:celery\.)?Celery\(", re.M))
    if found is None:
        return []
    rel, match, evidence = found
    module, app_dir = _module(project.directory, rel)
    module = module.removesuffix(".celery")
    if match.group(1) not in ("app", "celery"):
        module += f":{match.group(1)}"
    command = f"celery -A {module} worker --loglevel=INFO" + (f" --workdir {app_dir}" if app_dir else "")
    return [_Worker("-worker", command, evidence)]


def _workers(main: Component, workers: list[_Worker]) -> list[Component]:
    """Processes sharing the main component's image (a Celery worker)."""
    shared = ("language_version", "package_manager", "services", "dependency_files")
    out = []
    for worker in workers:
        evidence = {k: v for k, v in main.evidence.items() if k in shared}
        evidence["framework"] = evidence["start_command"] = (worker.evidence,)
        out.append(
            Component(
                name=worker.suffix,
                path=main.path,
                kind="worker",
                language=main.language,
                language_version=main.language_version,
                framework="celery",
                package_manager=main.package_manager,
                start_command=worker.start_command,
                services=main.services,
                dependency_files=main.dependency_files,
                evidence=evidence,
            )
        )
    return out


# -- health, tests, lint, services, migrations --------------------------------------------

_ROUTE = re.compile(
    rf"""@(\w+)\.(?:get|head|route|api_route)\(\s*["']({common.HEALTH_PATH_RE})["']"""
    rf"""|\.(?:add_url_rule|add_api_route|add_route)\(\s*["']({common.HEALTH_PATH_RE})["']"""
    rf"""|\b(?:Route|Mount)\(\s*["']({common.HEALTH_PATH_RE})["']"""
)
_PREFIX = re.compile(r"""(\w+)\s*=\s*\w*(?:Router|Blueprint)\([^)]*?(?:url_)?prefix\s*=\s*["']([^"']*)["']""")


def _health(repo: Repo, files: list[str], facts: Facts) -> None:
    """Health routes declared on the app or on a router whose prefix is in the same file."""
    found = []
    for rel, match, evidence in common.search(repo, files[:30], _ROUTE):
        path = match.group(2) or match.group(3) or match.group(4)
        prefixes = dict(_PREFIX.findall(repo.read_text(rel) or ""))
        found.append((prefixes.get(match.group(1) or "", "").rstrip("/") + path, evidence))
    best = common.best_health(found)
    if best:
        facts.set("health_path", best[0], best[1])


def _test_and_lint(repo: Repo, project: _Project, facts: Facts) -> None:
    d = project.directory
    names = set(common.names_in(repo, d))
    tool = _table(project.pyproject, "tool")
    pyproject = join(d, "pyproject.toml")
    configs = {
        name: repo.read_text(join(d, name)) or "" for name in ("setup.cfg", "tox.ini") if name in names
    }
    if "pytest" in tool:
        facts.set("test_command", "pytest", repo.evidence(pyproject, "[tool.pytest"))
    elif "pytest.ini" in names:
        facts.set("test_command", "pytest", common.file_evidence(join(d, "pytest.ini")))
    elif project.has("pytest"):
        facts.set("test_command", "pytest", project.dep_evidence(repo, "pytest"))
    elif "conftest.py" in names:
        facts.set("test_command", "pytest", common.file_evidence(join(d, "conftest.py")))
    for name, text in configs.items():
        if facts.get("test_command") != "pytest" and re.search(r"^\[(?:tool:)?pytest\]", text, re.M):
            facts.set("test_command", "pytest", repo.evidence(join(d, name), re.compile(r"pytest\]")))
    ruff = sorted(names & {"ruff.toml", ".ruff.toml"})
    if "ruff" in tool:
        facts.set("lint_command", "ruff check .", repo.evidence(pyproject, "[tool.ruff"))
    elif ruff:
        facts.set("lint_command", "ruff check .", common.file_evidence(join(d, ruff[-1])))
    elif project.has("ruff"):
        facts.set("lint_command", "ruff check .", project.dep_evidence(repo, "ruff"))
    elif ".flake8" in names:
        facts.set("lint_command", "flake8", common.file_evidence(join(d, ".flake8")))
    elif project.has("flake8"):
        facts.set("lint_command", "flake8", project.dep_evidence(repo, "flake8"))
    for name, text in configs.items():
        if "[flake8]" in text:
            facts.setdefault("lint_command", "flake8", repo.evidence(join(d, name), "[flake8]"))


def _services(repo: Repo, project: _Project, sources: list[str], facts: Facts) -> None:
    for name in sorted(project.deps):
        if name in _SERVICE_DEPS:
            facts.add_service(_SERVICE_DEPS[name], project.dep_evidence(repo, name))
    engine = re.compile(
        r"django\.db\.backends\.(postgresql|mysql)|django\.contrib\.gis\.db\.backends\.postgis"
    )
    settings = [rel for rel in sources if "settings" in rel][:10]
    for _, match, evidence in common.search(repo, settings, engine):
        facts.add_service("mysql" if match.group(1) == "mysql" else "postgres", evidence)
    common.services_from_urls(repo, sources[:30], facts)


def _migrations(repo: Repo, project: _Project, facts: Facts) -> None:
    d = project.directory
    if facts.get("migrate_command"):
        return
    if project.has("alembic") and repo.exists(join(d, "alembic.ini")):
        evidence = repo.evidence(join(d, "alembic.ini"), "script_location")
        facts.set("migration_tool", "alembic", evidence)
        facts.set("migrate_command", "alembic upgrade head", evidence)
    elif project.has("flask-migrate") and repo.exists(join(d, "migrations/env.py")):
        evidence = project.dep_evidence(repo, "flask-migrate")
        facts.set("migration_tool", "flask-migrate", evidence)
        facts.set("migrate_command", "flask db upgrade", evidence)
