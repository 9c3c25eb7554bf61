"""JVM projects: Maven (pom.xml) and Gradle (build.gradle[.kts]), Spring Boot apps.

The folder holding the build's root (the aggregator pom.xml, the settings.gradle) owns the
components: a module inside a multi-module build returns None, and the root returns one
component per Spring Boot module, with path = the root folder (the build needs the parent
pom or settings) and build_target = the Maven module folder or the Gradle project path.

Conventions:
- build_command packages a fat jar ("./mvnw -B package -DskipTests", "./gradlew bootJar";
  "mvn"/"gradle" without a wrapper); build_output "target/*.jar" / "build/libs/*.jar"
  (under the module's folder); start_command "java -jar /app/app.jar": the runtime image
  holds the jar as /app/app.jar. A Gradle `application` project builds with installDist
  and starts "/app/bin/<name>".
- language is "kotlin" when the Kotlin plugin builds the module, else "java".
- Port and health come from src/main/resources/application.{properties,yml,yaml}; with no
  server.port, Spring Boot's 8080 (marked default). Flyway/Liquibase migrations run inside
  the app at startup, so migrate_command stays None (the evidence says so).
- XML is parsed only without DOCTYPE/entities; a refused or malformed pom.xml is a warning.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from deploysmith.detect import _support, common
from deploysmith.detect.base import Detection, Strength
from deploysmith.detect.common import Facts
from deploysmith.model import Component, ComponentKind, Evidence
from deploysmith.repo import Repo, join

MARKERS: tuple[str, ...] = (
    "pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts",
    "mvnw", "gradlew",
)

GRADLE_BUILD = ("build.gradle.kts", "build.gradle")
GRADLE_SETTINGS = ("settings.gradle.kts", "settings.gradle")
BOOT_GROUP = "org.springframework.boot"
WEB_STARTERS = (
    "spring-boot-starter-web", "spring-boot-starter-webflux", "spring-boot-starter-jersey",
    "spring-boot-starter-websocket",
)
SERVICES = {
    "postgresql": "postgres", "r2dbc-postgresql": "postgres",
    "mysql-connector-j": "mysql", "mysql-connector-java": "mysql", "mariadb-java-client": "mysql",
    "mssql-jdbc": "sqlserver",
    "spring-boot-starter-data-redis": "redis", "spring-boot-starter-data-redis-reactive": "redis",
    "jedis": "redis", "lettuce-core": "redis", "redisson": "redis", "redisson-spring-boot-starter": "redis",
    "spring-boot-starter-data-mongodb": "mongodb", "spring-boot-starter-data-mongodb-reactive": "mongodb",
    "mongodb-driver-sync": "mongodb", "mongodb-driver-reactivestreams": "mongodb",
    "spring-boot-starter-amqp": "rabbitmq", "spring-rabbit": "rabbitmq", "amqp-client": "rabbitmq",
    "spring-kafka": "kafka", "kafka-clients": "kafka",
}
MIGRATIONS = {"flyway-core": "flyway", "liquibase-core": "liquibase"}
MAX_MODULES = 50
MAVEN_LINTERS = (("spotless-maven-plugin", "spotless:check"), ("maven-checkstyle-plugin", "checkstyle:check"))

# Gradle build scripts, read as text.
GRADLE_PLUGIN = re.compile(
    r"""\bid\s*\(?\s*["']([\w.\-]+)["']|apply\s*\(?\s*plugin\s*[:=]\s*["']([\w.\-]+)["']"""
    r"""|\bkotlin\(\s*["']([\w.]+)["']\s*\)|alias\(\s*libs\.plugins\.([\w.\-]+)\s*\)"""
    r"""|^\s*`?(application)`?\s*$""",
)
GRADLE_DEP = re.compile(
    r"""^\s*([a-zA-Z]+)\s*\(?\s*(?:platform\(\s*)?(?:["']([\w.\-]+):([\w.\-]+)[:"']|libs\.([\w.]+))"""
)
GRADLE_JAVA = re.compile(
    r"JavaLanguageVersion\.of\(\s*(\d+)|jvmToolchain\(\s*(\d+)|JavaVersion\.VERSION_(\d+)"
    r"""|(?:source|target)Compatibility\s*=\s*['"]?(\d+(?:\.\d+)?)"""
)
GRADLE_MAIN = re.compile(r"""mainClass(?:Name)?\s*(?:=|\.set\()\s*["']([\w.$]+)["']""")
GRADLE_INCLUDE = re.compile(r"^[ \t]*include\b[ \t]*(\()?", re.M)
GRADLE_INCLUDE_BUILD = re.compile(r"""\bincludeBuild\s*\(?\s*["']([^"']+)["']""")
GRADLE_APPLY_FROM = re.compile(r"""\bapply\s*\(?\s*from\s*[:=]\s*["']([^"':]+)["']""")
MAVEN_SETTINGS = re.compile(r"(?:^|\s)(?:-s|--settings|-gs|--global-settings)[=\s]+(\S+)")
MAVEN_PASSWORD = re.compile(r"<password>\s*[^<$\s]")


@dataclass
class Project:
    """One module of a Maven or Gradle build, as far as detection needs it."""

    tool: str  # "maven" | "gradle"
    root: str  # folder of the whole build (aggregator pom, settings.gradle)
    folder: str  # folder of this module
    build_file: str
    name: str
    target: str | None = None  # Maven module folder or Gradle project path; None at the root
    deps: dict[str, Evidence] = field(default_factory=dict)  # "group:artifact" -> line
    boot: Evidence | None = None  # Spring Boot packaging (plugin) evidence
    main: Evidence | None = None  # a plain entry point (mainClass, application plugin)
    java: tuple[str, Evidence] | None = None
    lint: tuple[str, Evidence] | None = None  # goal/task, evidence
    kotlin: bool = False
    parent_pom: str | None = None  # the Maven parent's pom.xml when it is in the repository

    def artifact(self, artifact: str) -> Evidence | None:
        return next((e for key, e in self.deps.items() if key.split(":")[1] == artifact), None)

    def spring(self) -> Evidence | None:
        starters = (e for key, e in self.deps.items() if key.startswith(BOOT_GROUP + ":"))
        return self.boot or next(starters, None)


def detect(repo: Repo, directory: str) -> Detection | None:
    if repo.exists(join(directory, "pom.xml")):
        projects = _maven(repo, directory)
    elif any(repo.exists(join(directory, n)) for n in GRADLE_BUILD + GRADLE_SETTINGS):
        projects = _gradle(repo, directory)
    else:
        return None
    if projects is None:
        return None
    apps = [p for p in projects if p.spring() is not None and (p.boot or len(projects) == 1)]
    strength = Strength.APP
    if not apps:
        apps = [p for p in projects if p.main is not None]
        strength = Strength.RUNNABLE
    if not apps:
        facts = _facts(repo, directory, projects[0], projects)
        return Detection((facts.component(directory, "worker", "java"),), Strength.TOOLING)  # a library
    components: list[Component] = []
    for project in apps:
        facts = _facts(repo, directory, project, projects)
        kind: ComponentKind = "web" if facts.get("port") is not None else "worker"
        name = common.sanitize_name(project.name) if len(apps) > 1 else ""
        components.append(facts.component(directory, kind, "kotlin" if project.kotlin else "java", name=name))
    return Detection(tuple(components), strength)


# -- Maven ------------------------------------------------------------------------------


def _maven(repo: Repo, directory: str) -> list[Project] | None:
    """The root project and its modules, or None when this pom is a module of a build
    rooted higher up (that root reports it) or cannot be read."""
    pom = _support.parse_xml(repo, join(directory, "pom.xml"))
    if pom is None or _maven_parent_lists(repo, directory, pom):
        return None
    props = _properties(pom)
    root = _maven_project(repo, directory, directory, pom, props)
    projects = [root]
    queue = [(directory, pom, root, props)]
    while queue and len(projects) < MAX_MODULES:
        folder, element, aggregator, inherited = queue.pop(0)
        for module in _texts(element, "modules/module"):
            sub = posixpath.normpath(join(folder, module))
            sub_pom = _support.parse_xml(repo, join(sub, "pom.xml")) if module else None
            if sub_pom is None:
                continue
            # Dependencies and properties are inherited from the parent, which is usually
            # (not always) the aggregator that lists the module.
            child = _support.xml_text(sub_pom, "parent/artifactId") == aggregator.name
            sub_props = {**inherited, **_properties(sub_pom)} if child else _properties(sub_pom)
            project = _maven_project(repo, directory, sub, sub_pom, sub_props)
            project.target = common.relative(directory, sub)
            if child:
                project.deps = {**aggregator.deps, **project.deps}
                project.java = project.java or aggregator.java
            projects.append(project)
            queue.append((sub, sub_pom, project, sub_props))
    return projects


def _maven_parent_lists(repo: Repo, directory: str, pom: ET.Element) -> bool:
    """Whether the parent pom in this repository lists `directory` among its modules."""
    if pom.find("parent") is None or directory in (".", ""):
        return False
    relative = _support.xml_text(pom, "parent/relativePath") or "../pom.xml"
    parent_pom = posixpath.normpath(join(directory, relative))
    if not parent_pom.endswith(".xml"):
        parent_pom = join(parent_pom, "pom.xml")
    if parent_pom.startswith("..") or not repo.exists(parent_pom):
        return False
    text = repo.read_text(parent_pom) or ""
    name = posixpath.relpath(directory, posixpath.dirname(parent_pom) or ".")
    return re.search(rf"<module>\s*(?:\./)?{re.escape(name)}/?\s*</module>", text) is not None


def _texts(element: ET.Element, path: str) -> list[str]:
    return [(e.text or "").strip() for e in element.findall(path)]


def _properties(pom: ET.Element) -> dict[str, str]:
    props = pom.find("properties")
    return {} if props is None else {str(p.tag): (p.text or "").strip() for p in props}


def _dependencies(pom: ET.Element) -> list[tuple[str, str, str]]:
    """(groupId, artifactId, scope) of the pom's own <dependencies> (not management)."""
    return [
        (_support.xml_text(d, "groupId") or "", _support.xml_text(d, "artifactId") or "",
         _support.xml_text(d, "scope") or "compile")
        for d in pom.findall("dependencies/dependency")
    ]


def _maven_project(repo: Repo, root: str, folder: str, pom: ET.Element, props: dict[str, str]) -> Project:
    """The module's own declarations; `props` are its properties merged over its parents'."""
    path = join(folder, "pom.xml")
    name = _support.xml_text(pom, "artifactId") or posixpath.basename(folder) or repo.root.name
    project = Project("maven", root, folder, path, name)
    for group, artifact, scope in _dependencies(pom):
        if scope != "test" and group != "org.testcontainers":
            project.deps[f"{group}:{artifact}"] = _xml_line(repo, path, "artifactId", artifact)
    plugins = {(_support.xml_text(p, "artifactId") or ""): p for p in pom.findall("build/plugins/plugin")}
    project.kotlin = "kotlin-maven-plugin" in plugins
    packaged = _support.xml_text(pom, "packaging") != "pom"  # an aggregator builds no jar
    if "spring-boot-maven-plugin" in plugins and packaged:
        project.boot = _xml_line(repo, path, "artifactId", "spring-boot-maven-plugin")
    if packaged and (pom.find(".//mainClass") is not None or _properties(pom).get("exec.mainClass")):
        project.main = repo.evidence(path, re.compile(r"mainClass>"))
    own = _properties(pom)
    compiler = plugins.get("maven-compiler-plugin")
    for key in ("java.version", "maven.compiler.release", "maven.compiler.target", "maven.compiler.source"):
        value = _resolve(own.get(key), props)
        if value:
            project.java = (value, repo.evidence(path, f"<{key}>"))
            break
    else:
        value = _resolve(_support.xml_text(compiler, "configuration/release")
                         or _support.xml_text(compiler, "configuration/source"), props)
        if value:
            project.java = (value, repo.evidence(path, re.compile(r"<(release|source)>")))
    for plugin, goal in MAVEN_LINTERS:
        if plugin in plugins:
            project.lint = (goal, _xml_line(repo, path, "artifactId", plugin))
            break
    project.parent_pom = _maven_parent_pom(repo, folder, pom)
    return project


def _maven_parent_pom(repo: Repo, folder: str, pom: ET.Element) -> str | None:
    """The parent's pom.xml in the repository (relativePath, default ../pom.xml, with the
    parent's artifactId), which Maven reads before it looks in a repository."""
    parent = pom.find("parent")
    if parent is None:
        return None
    given = parent.find("relativePath")
    relative = "../pom.xml" if given is None else (given.text or "").strip()
    if not relative:  # <relativePath/>: the parent comes from a repository
        return None
    path = posixpath.normpath(join(folder, relative))
    if not path.endswith(".xml"):
        path = join(path, "pom.xml")
    if path.startswith("..") or not repo.exists(path):
        return None
    wanted = _support.xml_text(pom, "parent/artifactId")
    text = repo.read_text(path) or ""
    own = re.sub(r"<parent>.*?</parent>", "", text, flags=re.S)
    found = re.search(r"<artifactId>\s*([^<\s]+)\s*</artifactId>", own)
    return path if found is not None and found.group(1) == wanted else None


def _resolve(value: str | None, props: dict[str, str]) -> str | None:
    """A property value with one level of ${name} references resolved."""
    if value is None:
        return None
    resolved = re.sub(r"\$\{([\w.\-]+)\}", lambda m: props.get(m.group(1), m.group(0)), value)
    return None if "${" in resolved else resolved


def _xml_line(repo: Repo, path: str, tag: str, value: str) -> Evidence:
    return repo.evidence(path, re.compile(rf"<{tag}>\s*{re.escape(value)}\s*</{tag}>"))


# -- Gradle -----------------------------------------------------------------------------


def _gradle(repo: Repo, directory: str) -> list[Project] | None:
    if _gradle_included_above(repo, directory):
        return None
    settings = next((join(directory, n) for n in GRADLE_SETTINGS if repo.exists(join(directory, n))), None)
    settings_text = repo.read_text(settings) if settings else ""
    name_match = re.search(r"""rootProject\.name\s*=\s*["']([^"']+)["']""", settings_text or "")
    catalog = _catalog(repo, directory)
    root = _gradle_project(repo, directory, directory, name_match.group(1) if name_match else "", catalog)
    projects = [root] if root is not None else []
    for include in _gradle_includes(settings_text or "")[:MAX_MODULES]:
        folder = join(directory, include.strip(":").replace(":", "/"))
        project = _gradle_project(repo, directory, folder, include.split(":")[-1], catalog)
        if project is not None:
            project.target = ":" + include.strip(":")
            project.java = project.java or (root.java if root else None)
            projects.append(project)
    return projects or None


def _gradle_includes(settings: str) -> list[str]:
    """Project paths of every `include`: `include 'a', 'b'` (continued over lines ending in a
    comma) and `include(` … `)` spanning several lines."""
    includes: list[str] = []
    for match in GRADLE_INCLUDE.finditer(settings):
        rest = settings[match.end():]
        if match.group(1):  # include( … ): up to the closing parenthesis
            arguments = rest.split(")", 1)[0]
        else:
            lines = rest.split("\n")
            taken = [lines[0]]
            while taken[-1].split("//", 1)[0].rstrip().endswith(",") and len(taken) < len(lines):
                taken.append(lines[len(taken)])
            arguments = "\n".join(taken)
        arguments = re.sub(r"//[^\n]*", "", arguments)
        includes += re.findall(r"""["']([^"']+)["']""", arguments)
    return includes


def _gradle_included_above(repo: Repo, directory: str) -> bool:
    """Whether a settings.gradle in a folder above includes `directory`."""
    for folder in list(common.ancestors(directory))[1:]:
        for name in GRADLE_SETTINGS:
            text = repo.read_text(join(folder, name)) if repo.exists(join(folder, name)) else None
            if text is not None:
                wanted = common.relative(folder, directory)
                return any(i.strip(":").replace(":", "/") == wanted for i in _gradle_includes(text))
    return False


def _catalog(repo: Repo, directory: str) -> dict[str, dict[str, str]]:
    """gradle/libs.versions.toml: {"plugins": alias -> id, "libraries": alias -> "group:name"}."""
    path = join(directory, "gradle/libs.versions.toml")
    data: dict[str, Any] = (repo.load_toml(path) or {}) if repo.exists(path) else {}
    out: dict[str, dict[str, str]] = {"plugins": {}, "libraries": {}}
    for section, key in (("plugins", "id"), ("libraries", "module")):
        for alias, spec in (data.get(section) or {}).items():
            if isinstance(spec, str):
                value = spec.rsplit(":", 1)[0] if section == "plugins" else ":".join(spec.split(":")[:2])
            elif isinstance(spec, dict):
                split = f"{spec.get('group')}:{spec.get('name')}" if "group" in spec else ""
                value = spec.get(key) or split
            else:
                continue
            out[section][re.sub(r"[-_]", ".", alias)] = str(value)
    return out


def _gradle_project(repo: Repo, root: str, folder: str, name: str,
                    catalog: dict[str, dict[str, str]]) -> Project | None:
    path = next((join(folder, n) for n in GRADLE_BUILD if repo.exists(join(folder, n))), None)
    if path is None:
        return None
    text = repo.read_text(path) or ""
    project = Project("gradle", root, folder, path, name or posixpath.basename(folder) or repo.root.name)
    for _, match, evidence in _support.search(repo, [path], GRADLE_PLUGIN):
        plugin_id = match.group(1) or match.group(2) or match.group(5)
        if match.group(3):
            plugin_id = "org.jetbrains.kotlin." + match.group(3)
        elif match.group(4):
            plugin_id = catalog["plugins"].get(match.group(4).replace("-", "."), "")
        project.kotlin = project.kotlin or (plugin_id or "").startswith("org.jetbrains.kotlin.")
        if plugin_id == BOOT_GROUP:
            project.boot = evidence
        elif plugin_id == "application" and GRADLE_MAIN.search(text):
            project.main = evidence
        elif plugin_id in ("com.diffplug.spotless", "checkstyle") and project.lint is None:
            project.lint = ("spotlessCheck" if plugin_id != "checkstyle" else "checkstyleMain", evidence)
    for _, match, evidence in _support.search(repo, [path], GRADLE_DEP):
        configuration = match.group(1)
        if configuration.startswith("test") or "Test" in configuration or configuration == "classpath":
            continue
        coordinates = f"{match.group(2)}:{match.group(3)}" if match.group(2) else (
            catalog["libraries"].get(match.group(4) or "", ""))
        if ":" in coordinates and not coordinates.startswith("org.testcontainers:"):
            project.deps.setdefault(coordinates, evidence)
    java = _support.first(repo, [path], GRADLE_JAVA)
    if java is not None:
        version = next(g for g in java[1].groups() if g)
        project.java = (version[2:] if version.startswith("1.") else version, java[2])
    return project


# -- facts --------------------------------------------------------------------------------


def _facts(repo: Repo, directory: str, project: Project, projects: list[Project]) -> Facts:
    facts = Facts()
    maven = project.tool == "maven"
    wrapper = join(directory, "mvnw" if maven else "gradlew")
    tool = ("./mvnw" if maven else "./gradlew") if repo.exists(wrapper) else ("mvn" if maven else "gradle")
    tool_evidence = common.file_evidence(wrapper if repo.exists(wrapper) else project.build_file)
    facts.set("package_manager", project.tool, tool_evidence)
    if project.java:
        facts.set("language_version", project.java[0], project.java[1])
    spring = project.spring()
    if spring is not None:
        facts.set("framework", "spring-boot", spring)
    _build(facts, project, tool)
    tests = next(common.files_under(repo, join(project.folder, "src/test")), None)
    test_goal = "-B test" if maven else "test"
    if project.target:
        test_goal = f"-B -pl {project.target} -am test" if maven else f"{project.target}:test"
    no_tests = "no tests under src/test yet"
    evidence = common.file_evidence(tests) if tests else (
        _support.explained(common.file_evidence(project.build_file), no_tests, True))
    facts.set("test_command", f"{tool} {test_goal}", evidence)
    if project.lint:
        facts.set("lint_command", f"{tool} {'-B ' if maven else ''}{project.lint[0]}", project.lint[1])
    for artifact, service in SERVICES.items():
        found = project.artifact(artifact)
        if found is not None:
            facts.add_service(service, found)
    for artifact, tool_name in MIGRATIONS.items():
        found = project.artifact(artifact)
        if found is not None and spring is not None:
            at_startup = " (Spring Boot applies them at startup; no separate command)"
            facts.set("migration_tool", tool_name, _support.explained(found, at_startup))
    if spring is not None and any(project.artifact(a) for a in WEB_STARTERS):
        _port_and_health(repo, project, facts)
    facts.set("dependency_files", _dependency_files(repo, directory, project, projects),
              common.file_evidence(project.build_file))
    return facts


def _build(facts: Facts, project: Project, tool: str) -> None:
    """Packaging: a Boot fat jar, a Maven jar with a main class, a Gradle application
    distribution; a library only gets its build command."""
    folder = common.relative(project.root, project.folder) + "/" if project.target else ""
    task = f"{project.target}:" if project.target else ""
    start: str | None = "java -jar /app/app.jar" if project.boot or project.main else None
    if project.tool == "maven":
        selected = f" -pl {project.target} -am" if project.target else ""
        command, output = f"{tool} -B{selected} package -DskipTests", f"{folder}target/*.jar"
    elif project.boot:
        command, output = f"{tool} {task}bootJar", f"{folder}build/libs/*.jar"
    elif project.main:
        name = posixpath.basename(project.folder) if project.target else project.name
        command, output = f"{tool} {task}installDist", f"{folder}build/install/{name}"
        start = f"/app/bin/{name}"
    else:
        command, output = f"{tool} {task}assemble", f"{folder}build/libs/*.jar"
    evidence = project.boot or project.main or common.file_evidence(project.build_file)
    facts.set("build_target", project.target, evidence)
    facts.set("build_command", command, evidence)
    facts.set("build_output", output, evidence)
    facts.set("start_command", start, evidence)


def _port_and_health(repo: Repo, project: Project, facts: Facts) -> None:
    config = _spring_config(repo, project.folder)
    web = next(e for a in WEB_STARTERS if (e := project.artifact(a)) is not None)
    facts.evidence["kind"] = [web]
    port = config.get("server.port")
    value = _placeholder_default(port[0]) if port else None
    if port and value and value.isdigit():
        facts.set("port", int(value), port[1])
    else:
        reason = " (server.port has no default; Spring Boot's 8080 assumed)" if port else ""
        facts.set("port", 8080, _support.explained(port[1] if port else web, reason or
                                                   " (no server.port: Spring Boot's 8080)", True))
    actuator = project.artifact("spring-boot-starter-actuator")
    if actuator is None:
        return
    evidence = [actuator]
    mapping = config.get("management.endpoints.web.path-mapping.health")
    base = config.get("management.endpoints.web.base-path")
    context = config.get("management.server.base-path") if "management.server.port" in config else (
        config.get("server.servlet.context-path"))
    parts = [
        context[0] if context else "", base[0] if base else "/actuator", mapping[0] if mapping else "health",
    ]
    evidence += [item[1] for item in (context, base, mapping) if item]
    path = "/" + "/".join(p.strip("/") for p in parts if p.strip("/"))
    facts.set("health_path", path, *evidence)
    management_port = config.get("management.server.port")
    if management_port:
        facts.evidence["health_path"].append(
            _support.explained(management_port[1], " (health is served on the management port)"))


def _placeholder_default(value: str) -> str | None:
    """"8081" for "8081", "8080" for "${PORT:8080}", None for "${PORT}"."""
    match = re.fullmatch(r"\$\{[\w.\-]+:([^}]*)\}", value.strip())
    if match:
        return match.group(1).strip()
    return None if "${" in value else value.strip()


PROPERTY = re.compile(r"^\s*([\w.\-]+)\s*[=:]\s*(.*?)\s*$")
CONFIG_KEYS = (
    "server.port", "server.servlet.context-path", "management.endpoints.web.base-path",
    "management.endpoints.web.path-mapping.health", "management.server.port", "management.server.base-path",
)


def _spring_config(repo: Repo, folder: str) -> dict[str, tuple[str, Evidence]]:
    """CONFIG_KEYS from application.properties / application.yml (the default profile)."""
    found: dict[str, tuple[str, Evidence]] = {}
    resources = join(folder, "src/main/resources")
    properties = join(resources, "application.properties")
    for _, match, evidence in _support.search(repo, [properties], PROPERTY):
        if match.group(1) in CONFIG_KEYS:
            found.setdefault(match.group(1), (match.group(2), evidence))
    for name in ("application.yml", "application.yaml"):
        path = join(resources, name)
        text = repo.read_text(path)
        if not text:
            continue
        document = _default_document(repo, path, text)
        for key in CONFIG_KEYS:
            value = _lookup(document, key)
            line = _support.yaml_key_line(text, key)
            if value is not None and line is not None:
                found.setdefault(key, (str(value), _support.at_line(repo, path, line)))
    return found


def _default_document(repo: Repo, path: str, text: str) -> dict[str, Any]:
    """The first YAML document that is not tied to a profile (application.yml may hold several)."""
    import yaml  # lazy, like Repo.parse_yaml

    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or "syntax error"
        repo.warnings.append(f"{path}: malformed YAML ({problem}); ignored")
        return {}
    for document in documents:
        if isinstance(document, dict) and _lookup(document, "spring.config.activate.on-profile") is None \
                and _lookup(document, "spring.profiles") is None:
            return document
    return {}


def _lookup(document: Any, dotted: str) -> Any:
    """A nested or flat-spelled key ("server.port" or server: {port: ...})."""
    if not isinstance(document, dict):
        return None
    if dotted in document:
        return document[dotted]
    head, _, rest = dotted.partition(".")
    return _lookup(document.get(head), rest) if rest and head in document else None


def _dependency_files(repo: Repo, directory: str, project: Project, projects: list[Project]) -> list[str]:
    """Everything the dependency step (`dependency:go-offline`, `gradle dependencies`) reads,
    relative to the build's root folder."""
    if project.tool == "maven":
        return _maven_files(repo, directory, projects)
    return _gradle_files(repo, directory, projects)


def _maven_files(repo: Repo, directory: str, projects: list[Project]) -> list[str]:
    """The wrapper, .mvn/ (wrapper, maven.config, jvm.config, extensions.xml) and the settings
    file maven.config names, every module's pom.xml, and parent poms in the repository."""
    mvn = [".mvn/wrapper/maven-wrapper.properties", *common.listed_under(repo, directory, ".mvn")]
    files = common.present(repo, directory, ["mvnw", *mvn])
    config = repo.read_text(join(directory, ".mvn/maven.config")) or ""
    files += common.present(repo, directory, [m.group(1) for m in MAVEN_SETTINGS.finditer(config)])
    poms = [p.build_file for p in projects]
    parents = [p.parent_pom for p in projects if p.parent_pom is not None and p.parent_pom not in poms]
    outside = [rel for rel in dict.fromkeys(parents) if not common.inside(directory, rel)]
    files += [common.relative(directory, rel) for rel in [*poms, *parents] if rel not in outside]
    if outside:
        common.build_warning(repo, directory, common.outside_warning(directory, outside, "Maven"))
    return _without_credentials(repo, directory, list(dict.fromkeys(files)))


def _without_credentials(repo: Repo, directory: str, files: list[str]) -> list[str]:
    """Maven settings with a literal <password> stay out (with a warning)."""
    kept = []
    for name in files:
        rel = join(directory, name)
        if name.endswith(".xml") and MAVEN_PASSWORD.search(repo.read_text(rel) or ""):
            warning = common.credential_warning(rel, "repository credentials (<password>)")
            common.build_warning(repo, directory, warning)
        else:
            kept.append(name)
    return kept


def _gradle_files(repo: Repo, directory: str, projects: list[Project]) -> list[str]:
    """The wrapper, settings, gradle.properties, gradle/ (version catalogs, verification
    metadata, scripts), every project's build file and the scripts they apply, lock files,
    and the builds compiled before any build file is evaluated: buildSrc/ and includeBuild()."""
    wrapper = ["gradlew", "gradle/wrapper/gradle-wrapper.properties", "gradle/wrapper/gradle-wrapper.jar"]
    files = common.present(repo, directory, [*wrapper, *GRADLE_SETTINGS, "gradle.properties"])
    files += common.listed_under(repo, directory, "gradle")
    scripts = [p.build_file for p in projects]
    for project in projects:
        for _, match, _ in _support.search(repo, [project.build_file], GRADLE_APPLY_FROM):
            applied = posixpath.normpath(join(project.folder, match.group(1)))
            scripts += [applied] if repo.exists(applied) else []
    files += [common.relative(directory, rel) for rel in scripts if common.inside(directory, rel)]
    outside = [rel for rel in dict.fromkeys(scripts) if not common.inside(directory, rel)]
    if outside:
        warning = common.outside_warning(directory, outside, "Gradle (apply from)")
        common.build_warning(repo, directory, warning)
    folders = [common.relative(directory, p.folder) if p.folder != directory else "." for p in projects]
    locks = ["settings-gradle.lockfile", *[join(folder, "gradle.lockfile") for folder in folders]]
    files += common.present(repo, directory, locks)
    settings = next((join(directory, n) for n in GRADLE_SETTINGS if repo.exists(join(directory, n))), None)
    text = (repo.read_text(settings) if settings else None) or ""
    for build in ["buildSrc", *[m.group(1) for m in GRADLE_INCLUDE_BUILD.finditer(text)]]:
        folder = posixpath.normpath(join(directory, build))
        if common.inside(directory, folder) and folder != directory:
            files += common.listed_under(repo, directory, common.relative(directory, folder))
        elif next(common.files_under(repo, folder), None) is not None:
            warning = common.outside_warning(directory, [folder + "/"], "Gradle (includeBuild)")
            common.build_warning(repo, directory, warning)
    return list(dict.fromkeys(files))
