""".NET (*.csproj, *.fsproj, *.sln, *.slnx): ASP.NET Core web apps, worker services and
console apps. Test projects (xunit, NUnit, MSTest) are never components; they give the
apps their test_command.

A folder with a solution owns the solution's app projects: path = that folder (restores
often need Directory.Build.props, Directory.Packages.props or sibling projects beside it),
build_target = the project file relative to it. Projects that a solution in a folder
higher up lists are left to that folder.

Conventions:
- build_command "dotnet publish <build_target> -c Release -o /app/publish", build_output
  "/app/publish"; start_command "dotnet /app/<AssemblyName>.dll": the runtime image holds
  the published folder's content in /app.
- Port: Kestrel URLs in appsettings.json or the code (UseUrls, app.Run, ListenAnyIP); else
  8080, the official images' ASPNETCORE_HTTP_PORTS since .NET 8 (80 before), marked
  default. launchSettings.json is not read: it only applies to `dotnet run`.
- EF Core migrations run from a migrations bundle: build_command also builds
  /app/publish/efbundle, migrate_command "/app/efbundle" (reads the connection string from
  the app's configuration, needs no SDK). When the code calls Database.Migrate(), the app
  applies them itself and migrate_command stays None.
- language is "csharp" or "fsharp"; language_version the TargetFramework's ("net8.0" → "8.0").
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from deploysmith.detect import _support, common
from deploysmith.detect.base import Detection, Strength
from deploysmith.detect.common import Facts
from deploysmith.model import Component, ComponentKind
from deploysmith.repo import Repo, join

MARKERS: tuple[str, ...] = ("*.csproj", "*.fsproj", "*.sln", "*.slnx")

PROJECT_SUFFIXES = (".csproj", ".fsproj")
MAX_PROJECTS = 200
MAX_FILES = 150
TEST_PACKAGES = ("Microsoft.NET.Test.Sdk", "xunit", "xunit.v3", "NUnit", "MSTest.TestFramework", "MSTest")
SERVICES = {
    "Npgsql": "postgres", "Npgsql.EntityFrameworkCore.PostgreSQL": "postgres",
    "Microsoft.Data.SqlClient": "sqlserver", "System.Data.SqlClient": "sqlserver",
    "Microsoft.EntityFrameworkCore.SqlServer": "sqlserver", "MySqlConnector": "mysql", "MySql.Data": "mysql",
    "Pomelo.EntityFrameworkCore.MySql": "mysql", "StackExchange.Redis": "redis",
    "Microsoft.Extensions.Caching.StackExchangeRedis": "redis", "MongoDB.Driver": "mongodb",
    "RabbitMQ.Client": "rabbitmq", "MassTransit.RabbitMQ": "rabbitmq", "Confluent.Kafka": "kafka",
}
SOLUTION_PROJECT = re.compile(r'^Project\("[^"]*"\)\s*=\s*"[^"]*",\s*"([^"]+\.(?:cs|fs)proj)"')
CONFIG_URL = re.compile(r'"(?:Url|Urls)"\s*:\s*"[^"]*?:(\d{2,5})\b')
CODE_URL = re.compile(r'(?:UseUrls|\.Run|\.Urls\.Add)\(\s*"[^"]*?:(\d{2,5})\b|ListenAnyIP\(\s*(\d{2,5})'
                      r'|\.Listen\(\s*IPAddress\.\w+\s*,\s*(\d{2,5})')
HEALTH = re.compile(rf'Map(?:HealthChecks|Get)\(\s*"({common.HEALTH_PATH_RE})"')
DECLARED_KIND = re.compile(r"Microsoft\.NET\.Sdk\.\w+|Microsoft\.AspNetCore\.App|<OutputType>")
MIGRATE_AT_STARTUP = re.compile(r"\.Database\.Migrate(?:Async)?\(")


@dataclass
class Project:
    path: str  # repo-relative project file
    sdk: str
    properties: dict[str, str] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)  # name -> version ("" when central)
    references: list[str] = field(default_factory=list)  # repo-relative project files
    aspnet: bool = False  # FrameworkReference Microsoft.AspNetCore.App

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.path) or "."

    @property
    def assembly(self) -> str:
        stem = posixpath.basename(self.path).rsplit(".", 1)[0]
        return self.properties.get("AssemblyName") or stem

    def is_test(self) -> bool:
        flagged = self.properties.get("IsTestProject", "").lower() == "true"
        return flagged or self.sdk.startswith("MSTest.Sdk") or any(p in self.packages for p in TEST_PACKAGES)

    def kind(self) -> tuple[ComponentKind, str | None] | None:
        """(kind, framework) for an app project, None for a library or a test project."""
        if self.is_test():
            return None
        if self.sdk == "Microsoft.NET.Sdk.Web" or self.aspnet:
            return "web", "aspnetcore"
        if self.sdk == "Microsoft.NET.Sdk.Worker":
            return "worker", "worker-service"
        if self.properties.get("OutputType", "").lower() in ("exe", "winexe"):
            return "worker", None
        return None


def detect(repo: Repo, directory: str) -> Detection | None:
    names = common.names_in(repo, directory)
    solutions = sorted(join(directory, n) for n in names if n.endswith((".sln", ".slnx")))
    if solutions:
        files = [p for s in solutions for p in _solution_projects(repo, s)]
    else:
        files = sorted(join(directory, n) for n in names if n.endswith(PROJECT_SUFFIXES))
    # The outermost solution owns a project: it reports it, folders below do not.
    files = [f for f in files if not _listed_above(repo, directory, f)]
    cache = _cache(repo)
    projects = [p for f in dict.fromkeys(files) if (p := _project(repo, f, cache)) is not None]
    apps = [p for p in projects if p.kind() is not None]
    if not apps:
        return None
    tests = [p for p in projects if p.is_test()] if solutions else _tests_elsewhere(repo, apps, cache)
    components: list[Component] = []
    for app in apps:
        kind, framework = app.kind() or ("worker", None)
        facts = _facts(repo, directory, app, cache, solutions, tests)
        declared = repo.evidence(app.path, DECLARED_KIND)
        facts.set("framework", framework, declared)
        facts.evidence["kind"] = [declared]
        if kind == "web":
            _port_and_health(repo, app, facts)
        name = common.sanitize_name(app.assembly) if len(apps) > 1 else ""
        language = "fsharp" if app.path.endswith(".fsproj") else "csharp"
        components.append(facts.component(directory, kind, language, name=name))
    known = any(c.framework for c in components)
    return Detection(tuple(components), Strength.APP if known else Strength.RUNNABLE)


# -- reading projects and solutions -------------------------------------------------------


def _solution_projects(repo: Repo, solution: str) -> list[str]:
    folder = posixpath.dirname(solution)
    if solution.endswith(".slnx"):
        root = _support.parse_xml(repo, solution)
        paths = [e.get("Path", "") for e in root.iter("Project")] if root is not None else []
    else:
        paths = [m.group(1) for _, m, _ in _support.search(repo, [solution], SOLUTION_PROJECT)]
    found = [posixpath.normpath(join(folder, p.replace("\\", "/"))) for p in paths if p]
    return [p for p in found if repo.exists(p)]


def _listed_above(repo: Repo, directory: str, project: str) -> bool:
    for folder in list(common.ancestors(directory))[1:]:
        for name in common.names_in(repo, folder):
            if name.endswith((".sln", ".slnx")) and project in _solution_projects(repo, join(folder, name)):
                return True
    return False


def _cache(repo: Repo) -> dict[str, Project | None]:
    """Parsed project files, kept on the Repo: every project folder of a repository asks
    about the same files (test projects, references)."""
    cache: dict[str, Project | None] = repo.__dict__.setdefault("_ds_dotnet_projects", {})
    return cache


def _project(repo: Repo, path: str, cache: dict[str, Project | None]) -> Project | None:
    if path in cache:
        return cache[path]
    cache[path] = None
    root = _support.parse_xml(repo, path)
    if root is None:
        return None
    sdk = root.get("Sdk") or next((e.get("Name", "") for e in root.iter("Sdk")), "")
    project = Project(path, sdk.split("/")[0])
    for group in root.iter("PropertyGroup"):
        for prop in group:
            if isinstance(prop.tag, str) and (prop.text or "").strip():
                project.properties.setdefault(prop.tag, (prop.text or "").strip())
    if "TargetFramework" not in project.properties and "TargetFrameworks" not in project.properties:
        _inherit_framework(repo, project)
    for item in root.iter("PackageReference"):
        name = item.get("Include") or item.get("Update") or ""
        if name:
            project.packages[name] = item.get("Version") or _support.xml_text(item, "Version") or ""
    for item in root.iter("ProjectReference"):
        include = (item.get("Include") or "").replace("\\", "/")
        if include:
            project.references.append(posixpath.normpath(join(project.folder, include)))
    frameworks = [e.get("Include") for e in root.iter("FrameworkReference")]
    project.aspnet = "Microsoft.AspNetCore.App" in frameworks
    cache[path] = project
    return project


def _inherit_framework(repo: Repo, project: Project) -> None:
    """TargetFramework from the nearest Directory.Build.props."""
    props = common.find_upwards(repo, project.folder, ("Directory.Build.props",))
    root = _support.parse_xml(repo, props) if props else None
    value = _property(root, "TargetFramework") or _property(root, "TargetFrameworks")
    if value and props:
        project.properties["TargetFramework"] = value
        project.properties["_TargetFrameworkFile"] = props


def _property(root: ET.Element | None, name: str) -> str | None:
    return None if root is None else next(((e.text or "").strip() for e in root.iter(name) if e.text), None)


def _closure(repo: Repo, project: Project, cache: dict[str, Project | None]) -> list[Project]:
    """The project and the projects it references, transitively (bounded)."""
    found, queue = [project], list(project.references)
    while queue and len(found) < 20:
        other = _project(repo, queue.pop(0), cache)
        if other is not None and other not in found:
            found.append(other)
            queue += other.references
    return found


def _tests_elsewhere(repo: Repo, apps: list[Project], cache: dict[str, Project | None]) -> list[Project]:
    """Test projects anywhere in the repository that reference one of `apps`."""
    wanted = {a.path for a in apps}
    tests = []
    for path in [f for f in repo.files if f.endswith(PROJECT_SUFFIXES)][:MAX_PROJECTS]:
        project = _project(repo, path, cache)
        if project is not None and project.is_test() and wanted.intersection(project.references):
            tests.append(project)
    return tests


# -- facts -------------------------------------------------------------------------------------


def _facts(repo: Repo, directory: str, app: Project, cache: dict[str, Project | None],
           solutions: list[str], tests: list[Project]) -> Facts:
    facts = Facts()
    app_file = common.file_evidence(app.path)
    facts.set("package_manager", "nuget", app_file)
    framework = app.properties.get("TargetFramework") or app.properties.get("TargetFrameworks", "")
    version = max((_framework_version(f) for f in framework.split(";")), key=_version_key, default=None)
    if version:
        source = app.properties.get("_TargetFrameworkFile", app.path)
        facts.set("language_version", version, repo.evidence(source, re.compile(r"<TargetFrameworks?>")))
    closure = _closure(repo, app, cache)
    for project in closure:
        for package, service in SERVICES.items():
            if package in project.packages:
                facts.add_service(service, repo.evidence(project.path, f'"{package}"'))
    target = common.relative(directory, app.path)
    facts.set("build_target", target, app_file)
    build = f"dotnet publish {target} -c Release -o /app/publish"
    facts.set("build_output", "/app/publish", app_file)
    facts.set("start_command", f"dotnet /app/{app.assembly}.dll", app_file)
    build = _migrations(repo, directory, app, closure, build, facts)
    facts.set("build_command", build, app_file)
    if tests:
        where = common.relative(directory, solutions[0]) if solutions else " ".join(
            posixpath.relpath(t.path, directory) for t in tests)
        facts.set("test_command", f"dotnet test {where}", *[common.file_evidence(t.path) for t in tests])
    editorconfig = common.find_upwards(repo, app.folder, (".editorconfig",))
    if editorconfig is not None:
        facts.set("lint_command", f"dotnet format {target} --verify-no-changes",
                  common.file_evidence(editorconfig))
    facts.set("dependency_files", _dependency_files(repo, directory, closure), app_file)
    return facts


def _framework_version(moniker: str) -> str | None:
    match = re.fullmatch(r"\s*net(?:coreapp)?(\d+\.\d+)(?:-[\w.]+)?\s*", moniker)
    return match.group(1) if match else None


def _version_key(version: str | None) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split(".")) if version else (0,)


def _port_and_health(repo: Repo, app: Project, facts: Facts) -> None:
    sources = common.source_files(repo, app.folder, (".cs", ".fs"), ("Program", "Startup"), MAX_FILES, 5)
    settings = [join(app.folder, "appsettings.json")]
    found = _support.first(repo, settings, CONFIG_URL) or _support.first(repo, sources, CODE_URL)
    if found is not None:
        facts.set("port", int(next(g for g in found[1].groups() if g)), found[2])
    else:
        modern = _version_key(facts.get("language_version")) >= (8, 0)
        port, why = (8080, "ASPNETCORE_HTTP_PORTS=8080 in .NET 8+ images") if modern else (
            80, "ASP.NET Core images before .NET 8 listen on 80")
        facts.set("port", port, _support.explained(common.file_evidence(app.path), why, True))
    health = common.best_health((m.group(1), e) for _, m, e in _support.search(repo, sources, HEALTH))
    if health is not None:
        facts.set("health_path", health[0], health[1])


def _migrations(repo: Repo, directory: str, app: Project, closure: list[Project], build: str,
                facts: Facts) -> str:
    """Sets the EF Core migration facts; returns build_command (with the bundle step)."""
    holder = next((p for p in closure if _snapshot(repo, p) is not None), None)
    if holder is None:
        return build
    snapshot = _snapshot(repo, holder) or holder.path
    sources = common.source_files(repo, app.folder, (".cs",), ("Program", "Startup"), MAX_FILES, 5)
    startup = _support.first(repo, sources, MIGRATE_AT_STARTUP)
    if startup is not None:
        facts.set("migration_tool", "ef-core",
                  _support.explained(startup[2], " (the app applies them at startup)"))
        return build
    evidence = _support.explained(common.file_evidence(snapshot),
                                  "EF Core migrations, run as a migrations bundle")
    facts.set("migration_tool", "ef-core", evidence)
    facts.set("migrate_command", "/app/efbundle", evidence)
    project, startup_project = common.relative(directory, holder.path), common.relative(directory, app.path)
    tool = _ef_tool(repo, directory, closure)
    return (f"{build} && {tool} migrations bundle --project {project} --startup-project {startup_project}"
            " -o /app/publish/efbundle")


def _snapshot(repo: Repo, project: Project) -> str | None:
    return next((f for f in common.files_under(repo, project.folder) if f.endswith("ModelSnapshot.cs")), None)


def _ef_tool(repo: Repo, directory: str, closure: list[Project]) -> str:
    """How the build stage runs dotnet-ef: the repository's tool manifest, else a pinned install."""
    manifest = common.find_upwards(repo, directory, (".config/dotnet-tools.json",))
    if manifest is not None and "dotnet-ef" in (repo.read_text(manifest) or ""):
        return "dotnet tool restore && dotnet ef"
    version = next((p.packages.get(n) for p in closure for n in ("Microsoft.EntityFrameworkCore.Design",
                                                                  "Microsoft.EntityFrameworkCore")
                    if p.packages.get(n)), None)
    pin = f" --version {version}" if version and re.fullmatch(r"[\d.]+", version) else ""
    return f"dotnet tool install --tool-path /tmp/dotnet-tools dotnet-ef{pin} && /tmp/dotnet-tools/dotnet-ef"


_SHARED = ("Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props")
_NUGET_CONFIGS = ("nuget.config", "NuGet.config", "NuGet.Config")
_IMPORT = re.compile(r"""<Import\b[^>]*?\bProject\s*=\s*(?:"([^"]+)"|'([^']+)')""")
_FILE_ABOVE = re.compile(r"GetPathOfFileAbove\(\s*'?([\w.]+?)'?\s*[,)]")


def _dependency_files(repo: Repo, directory: str, closure: list[Project]) -> list[str]:
    """What `dotnet restore` of the app reads, relative to the component folder: global.json,
    the NuGet configs, the Directory.*.props/targets each project picks up (and what they
    import), every project of the ProjectReference closure with its own imports, and the
    packages.lock.json files. Files outside the folder are reported (a Docker build of this
    folder cannot see them); NuGet configs with credentials are left out, with a warning."""
    files = [f for f in [common.find_upwards(repo, closure[0].folder, ("global.json",))] if f]
    for project in closure:
        for folder in common.ancestors(project.folder):
            for name in _NUGET_CONFIGS:
                rel = join(folder, name)
                if rel not in files and repo.exists(rel) and not _nuget_credentials(repo, directory, rel):
                    files.append(rel)
    shared: list[str] = []
    for project in closure:
        for name in _SHARED:
            found = common.find_upwards(repo, project.folder, (name,))
            shared += _with_imports(repo, found) if found else []
    files += shared + [p.path for p in closure]
    for project in closure:
        files += _with_imports(repo, project.path)[1:]
    locks = [join(p.folder, "packages.lock.json") for p in closure]
    files += [lock for lock in locks if repo.exists(lock)]
    files = list(dict.fromkeys(files))
    inside = [f for f in files if common.inside(directory, f)]
    outside = [f for f in files if f not in inside]
    if outside:
        repo.warnings.append(
            f"{closure[0].path}: the build reads {', '.join(outside)}, outside {directory}; "
            "a solution in a folder above both would let the image build see them"
        )
    return [common.relative(directory, f) for f in inside]


def _with_imports(repo: Repo, rel: str, depth: int = 0) -> list[str]:
    """`rel` and the MSBuild files it imports, transitively: literal relative paths and
    GetPathOfFileAbove(<name>) (the next file of that name in a folder above)."""
    found = [rel]
    if depth > 5:
        return found
    folder = posixpath.dirname(rel) or "."
    for match in _IMPORT.finditer(repo.read_text(rel) or ""):
        value = (match.group(1) or match.group(2)).replace("\\", "/")
        above = _FILE_ABOVE.search(value)
        target: str | None
        if above is not None:
            up = common.parent(folder)
            target = common.find_upwards(repo, up, (above.group(1),)) if folder != "." else None
        else:
            for prefix in ("$(MSBuildThisFileDirectory)", "$(MSBuildProjectDirectory)/"):
                value = value.replace(prefix, "")
            target = None if "$(" in value else posixpath.normpath(join(folder, value))
        if target and repo.exists(target) and target not in found:
            found += [f for f in _with_imports(repo, target, depth + 1) if f not in found]
    return found


def _nuget_credentials(repo: Repo, directory: str, rel: str) -> bool:
    if "<packageSourceCredentials" not in (repo.read_text(rel) or ""):
        return False
    warning = common.credential_warning(rel, "NuGet feed credentials (packageSourceCredentials)")
    common.build_warning(repo, directory, warning)
    return True
