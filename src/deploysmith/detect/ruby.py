"""Ruby (Gemfile): Rails, and Rack apps (Sinatra, Roda, Hanami, Grape) with a config.ru;
a Rails app's job processes (Sidekiq, Solid Queue, GoodJob) as worker components.

Conventions:
- start_command: "bundle exec puma -C config/puma.rb" when the app has a Puma config
  (port from its `port` line), else "bin/rails server -b 0.0.0.0 -p 3000" for Rails and
  "bundle exec rackup -o 0.0.0.0 -p 9292" for Rack (ports 3000 / 9292 marked default).
- Assets: an asset gem (propshaft, sprockets, jsbundling, cssbundling, tailwindcss, …) gives
  build_command "SECRET_KEY_BASE_DUMMY=1 bin/rails assets:precompile" (the dummy key lets
  Rails 7.1+ precompile without production credentials, as Rails' own Dockerfile does).
- language_version: exactly as pinned (Gemfile `ruby`, .ruby-version, .tool-versions, the
  lock file): Bundler refuses a Ruby other than the Gemfile's.
- Migrations: Rails with db/migrate or db/schema.rb → "bin/rails db:migrate".
- A Gemfile without Rails or config.ru is tooling (TOOLING).
Note: Repo does not list bin/ (an ignored folder), so binstubs are assumed, not checked.
"""

from __future__ import annotations

import posixpath
import re

from deploysmith.detect import _support, common
from deploysmith.detect.base import Detection, Strength
from deploysmith.detect.common import Facts
from deploysmith.model import Component, Evidence
from deploysmith.repo import Repo, join

MARKERS: tuple[str, ...] = ("Gemfile",)

GEM = re.compile(r"""^\s*gem\s*\(?\s*["']([\w\-.]+)["']""")
RACK_FRAMEWORKS = ("sinatra", "roda", "hanami", "grape")
SERVICES = {
    "pg": "postgres", "mysql2": "mysql", "trilogy": "mysql", "redis": "redis", "sidekiq": "redis",
    "bunny": "rabbitmq", "sneakers": "rabbitmq", "mongoid": "mongodb", "mongo": "mongodb",
    "ruby-kafka": "kafka", "rdkafka": "kafka", "karafka": "kafka",
}
ADAPTERS = {"postgresql": "postgres", "postgis": "postgres", "mysql2": "mysql", "trilogy": "mysql"}
ASSET_GEMS = (
    "propshaft", "sprockets-rails", "sprockets", "jsbundling-rails", "cssbundling-rails",
    "tailwindcss-rails", "dartsass-rails", "importmap-rails", "vite_rails",
)
JS_BUNDLING = ("jsbundling-rails", "cssbundling-rails")
JOB_RUNNERS = (  # gem, worker start command
    ("sidekiq", "bundle exec sidekiq"),
    ("solid_queue", "bundle exec rake solid_queue:start"),
    ("good_job", "bundle exec good_job start"),
)
WEB_ONLY = ("port", "health_path", "migrate_command", "migration_tool", "test_command", "lint_command")
PUMA_PORT = re.compile(
    r"""^\s*port\s*\(?\s*(?:ENV\.fetch\(\s*["']PORT["']\s*(?:,\s*(\d+)\s*)?\)\s*(?:\{\s*(\d+)\s*\})?|(\d+))""",
)
RAILS_HEALTH = re.compile(r"""\bget\s+["']/?([\w/.\-]+)["']\s*(?:=>|,\s*to:)\s*["']rails/health#show""")
ROUTE = re.compile(r"""\bget\s*\(?\s*["']/?((?:[\w.\-]+/)*(?:healthz?|livez|readyz|ping|up|status))/?["']""")
VERSION = re.compile(r"""^\s*ruby\s+["']([^"']+)["']""")


def detect(repo: Repo, directory: str) -> Detection | None:
    gemfile = join(directory, "Gemfile")
    text = repo.read_text(gemfile)
    if text is None:
        return None
    gems = {m.group(1): e for _, m, e in _support.search(repo, [gemfile], GEM)}
    rails = "rails" in gems or "railties" in gems
    app_config = join(directory, "config/application.rb")
    rack = join(directory, "config.ru")
    facts = Facts()
    facts.set("package_manager", "bundler", common.file_evidence(gemfile))
    _version(repo, directory, gemfile, facts)
    present = _dependency_files(repo, directory, gemfile, text)
    facts.set("dependency_files", present, *[common.file_evidence(join(directory, f)) for f in present])
    _tests(repo, directory, gems, rails, facts)
    if "rubocop" in gems or "rubocop-rails-omakase" in gems:
        facts.set("lint_command", "bundle exec rubocop", gems.get("rubocop") or gems["rubocop-rails-omakase"])
    _services(repo, directory, gems, facts)
    framework: str | None = None
    if rails and repo.exists(app_config):
        framework, evidence = "rails", gems.get("rails") or gems["railties"]
    elif repo.exists(rack):
        framework = next((name for name in RACK_FRAMEWORKS if name in gems), None)
        evidence = gems[framework] if framework else common.file_evidence(rack)
    else:
        return Detection((facts.component(directory, "worker", "ruby"),), Strength.TOOLING)
    facts.set("framework", framework, evidence)
    facts.evidence["kind"] = [evidence]
    _server(repo, directory, framework, facts)
    _health(repo, directory, facts)
    if framework == "rails":
        _rails(repo, directory, gems, facts)
    components = [facts.component(directory, "web", "ruby")]
    if framework == "rails":  # outside Rails, sidekiq needs a -r entry file we cannot know
        components += _workers(repo, directory, gems, facts)
    return Detection(tuple(components), Strength.APP if framework else Strength.RUNNABLE)


# Files the Gemfile itself reads: `ruby file: ".ruby-version"`, `ruby File.read(".ruby-version")`,
# `eval_gemfile "Gemfile.common"`.
GEMFILE_READS = re.compile(
    r"""^\s*(?:ruby\s*\(?\s*(?:file:\s*|File\.read\(\s*)|eval_gemfile\s*\(?\s*)["']([^"']+)["']""", re.M
)
GEMSPEC = re.compile(r"^\s*gemspec\b", re.M)
LOCAL_GEM = re.compile(r"""^\s*gem\s*\(?\s*["']([\w\-.]+)["'].*\bpath:\s*["']([^"']+)["']""", re.M)


def _dependency_files(repo: Repo, directory: str, gemfile: str, text: str) -> list[str]:
    """What `bundle install` reads: the Gemfile and its lock, the files the Gemfile reads
    (.ruby-version through `ruby file:`, eval_gemfile), and the *.gemspec a `gemspec` line
    loads. Gems from local paths are reported: the install runs before the source is copied."""
    read = [m.group(1) for m in GEMFILE_READS.finditer(text)]
    gemspecs = sorted(n for n in common.names_in(repo, directory) if n.endswith(".gemspec")) if (
        GEMSPEC.search(text)) else []
    for match in LOCAL_GEM.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        common.build_warning(
            repo, directory,
            f"{gemfile}:{line}: the gem {match.group(1)} comes from the local path {match.group(2)}; the "
            "image's `bundle install` runs before the source is copied, so it cannot find it there"
        )
    names = ["Gemfile", "Gemfile.lock", *[posixpath.normpath(r) for r in read], *gemspecs]
    return common.present(repo, directory, [n for n in names if not n.startswith("../")])


def _version(repo: Repo, directory: str, gemfile: str, facts: Facts) -> None:
    pinned = _support.first(repo, [gemfile], VERSION)
    if pinned is not None:
        spec = pinned[1].group(1)
        exact = re.fullmatch(r"=?\s*(\d+\.\d+(?:\.\d+)?)", spec.strip())
        facts.set("language_version", exact.group(1) if exact else common.minor_version(spec), pinned[2])
        return
    for name, pattern in ((".ruby-version", r"^(?:ruby-)?(\d+\.\d+(?:\.\d+)?)"),
                          (".tool-versions", r"^ruby\s+(\d+\.\d+(?:\.\d+)?)")):
        found = _support.first(repo, [join(directory, name)], re.compile(pattern))
        if found is not None:
            facts.set("language_version", found[1].group(1), found[2])
            return
    lock = join(directory, "Gemfile.lock")
    found = _support.first(repo, [lock], re.compile(r"^\s+ruby (\d+\.\d+\.\d+)"))
    if found is not None and "RUBY VERSION" in (repo.read_text(lock) or ""):
        facts.set("language_version", found[1].group(1), found[2])


def _tests(repo: Repo, directory: str, gems: dict[str, Evidence], rails: bool, facts: Facts) -> None:
    spec = next(common.files_under(repo, join(directory, "spec")), None)
    if spec is not None or "rspec-rails" in gems or "rspec" in gems:
        facts.set("test_command", "bundle exec rspec",
                  common.file_evidence(spec) if spec else gems.get("rspec-rails") or gems["rspec"])
        return
    test = next(common.files_under(repo, join(directory, "test")), None)
    if test is not None:
        command = "bin/rails test" if rails else "bundle exec rake test"
        facts.set("test_command", command, common.file_evidence(test))


def _services(repo: Repo, directory: str, gems: dict[str, Evidence], facts: Facts) -> None:
    for gem, service in SERVICES.items():
        if gem in gems:
            facts.add_service(service, gems[gem])
    database = join(directory, "config/database.yml")
    for _, match, evidence in _support.search(repo, [database], re.compile(r"^\s*adapter:\s*(\w+)")):
        if match.group(1) in ADAPTERS:
            facts.add_service(ADAPTERS[match.group(1)], evidence)


def _server(repo: Repo, directory: str, framework: str | None, facts: Facts) -> None:
    puma = join(directory, "config/puma.rb")
    default = 3000 if framework == "rails" else 9292
    if repo.exists(puma):
        facts.set("start_command", "bundle exec puma -C config/puma.rb", common.file_evidence(puma))
        found = _support.first(repo, [puma], PUMA_PORT)
        value = next((g for g in found[1].groups() if g), None) if found else None
        if found and value:
            facts.set("port", int(value), found[2])
        else:
            no_port = _support.explained(common.file_evidence(puma), f"Puma's {default}", True)
            facts.set("port", default, no_port)
        return
    rails = framework == "rails"
    command = f"bin/rails server -b 0.0.0.0 -p {default}" if rails else (
        f"bundle exec rackup -o 0.0.0.0 -p {default}")
    source = join(directory, "config/application.rb" if rails else "config.ru")
    note = "Rails' default port" if rails else "rackup's default port"
    facts.set("start_command", command, common.file_evidence(source))
    facts.set("port", default, _support.explained(common.file_evidence(source), note, True))


def _health(repo: Repo, directory: str, facts: Facts) -> None:
    routes = [join(directory, "config/routes.rb")] + [
        f for f in common.source_files(repo, directory, (".rb",), ("app", "application", "server"), 40)
        if not f.endswith("config/routes.rb")
    ]
    found = _support.first(repo, routes[:1], RAILS_HEALTH)
    if found is not None:
        facts.set("health_path", "/" + found[1].group(1).strip("/"), found[2])
        return
    best = common.best_health(("/" + m.group(1), e) for _, m, e in _support.search(repo, routes, ROUTE))
    if best is not None:
        facts.set("health_path", best[0], best[1])


def _rails(repo: Repo, directory: str, gems: dict[str, Evidence], facts: Facts) -> None:
    migration = next(common.files_under(repo, join(directory, "db/migrate")), None)
    schema = join(directory, "db/schema.rb")
    source = migration or (schema if repo.exists(schema) else None)
    if source is not None:
        facts.set("migration_tool", "rails", common.file_evidence(source))
        facts.set("migrate_command", "bin/rails db:migrate", common.file_evidence(source))
    asset = next((gems[g] for g in ASSET_GEMS if g in gems), None)
    if asset is not None:
        facts.set("build_command", "SECRET_KEY_BASE_DUMMY=1 bin/rails assets:precompile", asset)
    if any(g in gems for g in JS_BUNDLING):  # precompile runs the package.json build
        node = ["package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock"]
        present = [f for f in node if repo.exists(join(directory, f))]
        added = [common.file_evidence(join(directory, f)) for f in present]
        evidence = facts.evidence["dependency_files"] + added
        facts.set("dependency_files", [*facts.get("dependency_files"), *present], *evidence)


def _workers(repo: Repo, directory: str, gems: dict[str, Evidence], facts: Facts) -> list[Component]:
    """One worker per job runner in the Gemfile, sharing the web component's image. Its
    framework stays the app's ("rails"): the process boots the app and needs its settings."""
    workers: list[Component] = []
    for gem, command in JOB_RUNNERS:
        if gem not in gems:
            continue
        worker = _support.clone(facts)
        for key in WEB_ONLY:
            worker.values.pop(key, None)
            worker.evidence.pop(key, None)
        config = join(directory, "config/sidekiq.yml")
        if gem == "sidekiq" and repo.exists(config):
            command += " -C config/sidekiq.yml"
        worker.set("start_command", command, gems[gem])
        worker.evidence["kind"] = [gems[gem]]
        suffix = "-worker" if not workers else f"-{gem.replace('_', '-')}"
        workers.append(worker.component(directory, "worker", "ruby", name=suffix))
    return workers
