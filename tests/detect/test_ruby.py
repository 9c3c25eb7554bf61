from __future__ import annotations

from pathlib import Path

from deploysmith.detect import detect_stack, ruby
from deploysmith.detect.base import Strength
from deploysmith.model import Evidence
from tests.detect.ecosystem_fixtures import ev, make_repo, only

RAILS = {
    "Gemfile": """
        source "https://rubygems.org"

        ruby "3.3.4"

        gem "rails", "~> 7.2"
        gem "pg", "~> 1.1"
        gem "puma", ">= 5.0"
        gem "propshaft"
        gem "jsbundling-rails"
        gem "sidekiq", "~> 7.0"

        group :development, :test do
          gem "rspec-rails"
          gem "rubocop-rails-omakase", require: false
        end
        """,
    "Gemfile.lock": "GEM\n",
    "config.ru": "run Rails.application\n",
    "config/application.rb": "module Shop\n  class Application < Rails::Application\n  end\nend\n",
    "config/puma.rb": 'threads 3, 3\nport ENV.fetch("PORT") { 3000 }\n',
    "config/routes.rb": """
        Rails.application.routes.draw do
          get "up" => "rails/health#show", as: :rails_health_check
        end
        """,
    "config/sidekiq.yml": ":concurrency: 5\n",
    "config/database.yml": "production:\n  adapter: postgresql\n",
    "db/migrate/20240101000000_create_users.rb": "class CreateUsers; end\n",
    "spec/models/user_spec.rb": "describe User do; end\n",
    "package.json": '{"scripts": {"build": "esbuild app/javascript/*.* --bundle"}}\n',
    "yarn.lock": "\n",
}


def test_rails_with_sidekiq(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, RAILS)
    detection = ruby.detect(repo, ".")
    assert detection is not None and detection.strength == Strength.APP
    web, worker = detection.components
    assert (web.name, web.kind, web.language, web.framework) == ("", "web", "ruby", "rails")
    assert web.evidence["framework"] == ev("Gemfile", 5, 'gem "rails", "~> 7.2"')
    assert web.language_version == "3.3.4"
    assert web.evidence["language_version"] == ev("Gemfile", 3, 'ruby "3.3.4"')
    assert web.package_manager == "bundler"
    assert web.start_command == "bundle exec puma -C config/puma.rb"
    assert web.evidence["start_command"] == ev("config/puma.rb", None, "")
    assert web.port == 3000
    assert web.evidence["port"] == ev("config/puma.rb", 2, 'port ENV.fetch("PORT") { 3000 }')
    assert web.health_path == "/up"
    assert web.evidence["health_path"] == ev(
        "config/routes.rb", 2, 'get "up" => "rails/health#show", as: :rails_health_check'
    )
    assert web.test_command == "bundle exec rspec"
    assert web.evidence["test_command"] == ev("spec/models/user_spec.rb", None, "")
    assert web.lint_command == "bundle exec rubocop"
    assert web.evidence["lint_command"] == ev("Gemfile", 14, 'gem "rubocop-rails-omakase", require: false')
    assert web.services == ("postgres", "redis")
    assert web.evidence["services"] == (
        Evidence("Gemfile", 6, 'gem "pg", "~> 1.1"'),
        Evidence("Gemfile", 10, 'gem "sidekiq", "~> 7.0"'),
    )
    assert (web.migration_tool, web.migrate_command) == ("rails", "bin/rails db:migrate")
    assert web.evidence["migrate_command"] == ev("db/migrate/20240101000000_create_users.rb", None, "")
    assert web.build_command == "SECRET_KEY_BASE_DUMMY=1 bin/rails assets:precompile"
    assert web.evidence["build_command"] == ev("Gemfile", 8, 'gem "propshaft"')
    # jsbundling-rails: assets:precompile runs the package.json build, so its files are copied too.
    assert web.dependency_files == ("Gemfile", "Gemfile.lock", "package.json", "yarn.lock")

    assert (worker.name, worker.kind, worker.framework, worker.path) == ("-worker", "worker", "rails", ".")
    assert worker.start_command == "bundle exec sidekiq -C config/sidekiq.yml"
    assert worker.evidence["start_command"] == ev("Gemfile", 10, 'gem "sidekiq", "~> 7.0"')
    assert (worker.port, worker.health_path) == (None, None)
    assert (worker.migrate_command, worker.test_command) == (None, None)
    assert worker.build_command == web.build_command
    assert worker.services == web.services
    assert worker.language_version == "3.3.4"


def test_rails_without_puma_config_uses_rails_server_default_port(tmp_path: Path) -> None:
    dropped = ("config/puma.rb", "spec/models/user_spec.rb", "package.json", "yarn.lock")
    files = {k: v for k, v in RAILS.items() if k not in dropped}
    files["Gemfile"] = "gem 'rails'\ngem 'mysql2'\n"
    files["test/models/user_test.rb"] = "class UserTest; end\n"
    files[".ruby-version"] = "ruby-3.2.2\n"
    repo = make_repo(tmp_path, files)
    web = only(ruby.detect(repo, "."))
    assert web.start_command == "bin/rails server -b 0.0.0.0 -p 3000"
    assert web.port == 3000
    assert web.evidence["port"] == ev("config/application.rb", None, "Rails' default port", default=True)
    assert web.test_command == "bin/rails test"
    assert web.language_version == "3.2.2"
    assert web.evidence["language_version"] == ev(".ruby-version", 1, "ruby-3.2.2")
    assert web.services == ("mysql", "postgres")  # mysql2 gem, then database.yml's adapter
    assert web.build_command is None  # no asset gems: an API-only app
    assert web.lint_command is None


def test_sinatra_rack_app(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "Gemfile": "source 'https://rubygems.org'\ngem 'sinatra'\ngem 'bunny'\n",
            "Gemfile.lock": "GEM\n\nRUBY VERSION\n   ruby 3.3.1p55\n",
            "config.ru": "require './app'\nrun App\n",
            "app.rb": "get '/healthz' do\n  'ok'\nend\n",
        },
    )
    web = only(ruby.detect(repo, "."))
    assert (web.framework, web.kind) == ("sinatra", "web")
    assert web.start_command == "bundle exec rackup -o 0.0.0.0 -p 9292"
    assert web.evidence["port"] == ev("config.ru", None, "rackup's default port", default=True)
    assert web.health_path == "/healthz"
    assert web.evidence["health_path"] == ev("app.rb", 1, "get '/healthz' do")
    assert web.language_version == "3.3.1"
    assert web.evidence["language_version"] == ev("Gemfile.lock", 4, "ruby 3.3.1p55")
    assert web.services == ("rabbitmq",)
    assert web.migrate_command is None


def test_gemfile_for_tooling_only(tmp_path: Path) -> None:
    detection = ruby.detect(make_repo(tmp_path, {"Gemfile": "gem 'fastlane'\n"}), ".")
    assert detection is not None and detection.strength == Strength.TOOLING


def test_unreadable_gemfile(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"Gemfile": b"\xff\xfe gem 'rails'\n"})
    assert ruby.detect(repo, ".") is None
    assert repo.warnings == ["Gemfile: not valid UTF-8 text; skipped"]


def test_bundle_install_reads_the_files_the_gemfile_reads(tmp_path: Path) -> None:
    gemfile = """
        source "https://rubygems.org"
        ruby file: ".ruby-version"
        eval_gemfile "gemfiles/common.rb"
        gemspec
        gem "sinatra"
        gem "payments", path: "engines/payments"
        """
    files = {
        "Gemfile": gemfile,
        "Gemfile.lock": "GEM\n",
        ".ruby-version": "3.3.4\n",
        "gemfiles/common.rb": 'gem "puma"\n',
        "shop.gemspec": "Gem::Specification.new\n",
        "config.ru": "run Sinatra::Application\n",
    }
    stack = detect_stack(make_repo(tmp_path, files))
    web = stack.components[0]
    assert web.dependency_files == (
        "Gemfile",
        "Gemfile.lock",
        ".ruby-version",
        "gemfiles/common.rb",
        "shop.gemspec",
    )
    assert stack.warnings == (
        "Gemfile:6: the gem payments comes from the local path engines/payments; the image's "
        "`bundle install` runs before the source is copied, so it cannot find it there",
    )


def test_a_ruby_version_the_gemfile_does_not_read_is_no_dependency_file(tmp_path: Path) -> None:
    files = {
        "Gemfile": 'source "https://rubygems.org"\ngem "sinatra", git: "https://example.com/file:x"\n',
        ".ruby-version": "3.3.4\n",
        "config.ru": "run Sinatra::Application\n",
    }
    assert only(ruby.detect(make_repo(tmp_path, files), ".")).dependency_files == ("Gemfile",)
