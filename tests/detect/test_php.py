from __future__ import annotations

from pathlib import Path

from deploysmith.detect import detect_stack, php
from deploysmith.detect.base import Strength
from deploysmith.model import Evidence
from tests.detect.ecosystem_fixtures import ev, make_repo, only

COMPOSER = """
{
    "name": "acme/shop",
    "require": {
        "php": "^8.2",
        "laravel/framework": "^11.0",
        "predis/predis": "^2.2"
    },
    "require-dev": {
        "laravel/pint": "^1.13",
        "larastan/larastan": "^2.0",
        "phpunit/phpunit": "^11.0"
    }
}
"""

BOOTSTRAP = """
<?php
return Application::configure(basePath: dirname(__DIR__))
    ->withRouting(
        web: __DIR__.'/../routes/web.php',
        health: '/up',
    )->create();
"""

ENV_EXAMPLE = """
APP_NAME=Laravel
DB_CONNECTION=pgsql
QUEUE_CONNECTION=database
REDIS_HOST=127.0.0.1
CACHE_STORE=redis
"""

PACKAGE_JSON = """
{
  "private": true,
  "scripts": {"dev": "vite", "build": "vite build"},
  "devDependencies": {
    "laravel-vite-plugin": "^1.0",
    "vite": "^5.0"
  }
}
"""


def laravel(**extra: str) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "composer.json": COMPOSER,
        "composer.lock": "{}\n",
        "artisan": "#!/usr/bin/env php\n",
        "public/index.php": "<?php\n",
        "bootstrap/app.php": BOOTSTRAP,
        ".env.example": ENV_EXAMPLE,
        "phpunit.xml": "<phpunit/>\n",
        "tests/Feature/ExampleTest.php": "<?php\n",
        "database/migrations/2024_01_01_000000_create_users_table.php": "<?php\n",
    }
    files.update(extra)
    return files


def test_laravel_with_vite_assets_and_queue_worker(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        laravel(
            **{
                "package.json": PACKAGE_JSON,
                "package-lock.json": "{}\n",
                "app/Jobs/SendInvoice.php": "<?php\nclass SendInvoice implements ShouldQueue {}\n",
            }
        ),
    )
    detection = php.detect(repo, ".")
    assert detection is not None and detection.strength == Strength.APP
    web, worker = detection.components
    assert (web.name, web.kind, web.language, web.framework) == ("", "web", "php", "laravel")
    assert web.evidence["framework"] == ev("composer.json", 5, '"laravel/framework": "^11.0",')
    assert web.language_version == "8.2"
    assert web.evidence["language_version"] == ev("composer.json", 4, '"php": "^8.2",')
    assert web.package_manager == "composer"
    assert web.start_command == "apache2-foreground"
    assert web.evidence["start_command"] == ev(
        "public/index.php", None, "Apache + mod_php serves public/", True
    )
    assert web.port == 8080
    assert web.evidence["port"] == ev(
        "public/index.php", None, "the unprivileged port Apache listens on", True
    )
    assert web.health_path == "/up"
    assert web.evidence["health_path"] == ev("bootstrap/app.php", 5, "health: '/up',")
    assert web.test_command == "php artisan test"
    assert web.evidence["test_command"] == ev("phpunit.xml", None, "")
    assert web.lint_command == "vendor/bin/pint --test && vendor/bin/phpstan analyse"
    assert [e.line for e in web.evidence["lint_command"]] == [9, 10]
    # REDIS_HOST alone does not count; CACHE_STORE=redis and predis do.
    assert web.services == ("postgres", "redis")
    assert web.evidence["services"] == (
        Evidence(".env.example", 2, "DB_CONNECTION=pgsql"),
        Evidence(".env.example", 5, "CACHE_STORE=redis"),
    )
    assert (web.migration_tool, web.migrate_command) == ("laravel", "php artisan migrate --force")
    assert web.build_command == "npm ci && npm run build"
    assert web.build_output == "public/build"
    assert web.evidence["build_command"] == ev("package.json", 5, '"laravel-vite-plugin": "^1.0",')
    assert web.dependency_files == ("composer.json", "composer.lock", "package.json", "package-lock.json")

    assert (worker.name, worker.kind, worker.port, worker.health_path) == ("-worker", "worker", None, None)
    assert worker.start_command == "php artisan queue:work"
    assert worker.evidence["start_command"] == ev(
        ".env.example", 3, "QUEUE_CONNECTION=database (queued jobs in app/Jobs/SendInvoice.php)"
    )
    assert (worker.migrate_command, worker.test_command) == (None, None)
    assert worker.build_command == web.build_command


def test_laravel_skeleton_queue_setting_alone_adds_no_worker(tmp_path: Path) -> None:
    env = "DB_CONNECTION=sqlite\nQUEUE_CONNECTION=database\nREDIS_HOST=127.0.0.1\n"
    composer = COMPOSER.replace('        "predis/predis": "^2.2"\n', "").replace('"^11.0",', '"^11.0"')
    repo = make_repo(tmp_path, laravel(**{".env.example": env, "composer.json": composer}))
    web = only(php.detect(repo, "."))
    assert web.services == ()
    assert web.build_command is None  # no package.json: no assets to build


def test_horizon_runs_the_worker(tmp_path: Path) -> None:
    horizon = '"predis/predis": "^2.2",\n        "laravel/horizon": "^5.0"'
    composer = COMPOSER.replace('"predis/predis": "^2.2"', horizon)
    repo = make_repo(tmp_path, laravel(**{"composer.json": composer}))
    detection = php.detect(repo, ".")
    assert detection is not None
    worker = detection.components[1]
    assert worker.start_command == "php artisan horizon"
    assert worker.evidence["start_command"] == ev("composer.json", 7, '"laravel/horizon": "^5.0"')


def test_symfony_with_doctrine_migrations_and_redacted_database_url(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "composer.json": """
                {
                    "require": {
                        "php": ">=8.1 || ^8.3",
                        "symfony/framework-bundle": "7.1.*",
                        "doctrine/doctrine-migrations-bundle": "^3.3"
                    },
                    "config": {"platform": {"php": "8.3.4"}}
                }
                """,
            "public/index.php": "<?php\n",
            ".env.example": 'DATABASE_URL="postgresql://app:s3cret@db:5432/app?serverVersion=16"\n',
            "src/Controller/HealthController.php": "<?php\nclass HealthController {\n"
            "    #[Route('/healthz')]\n}\n",
        },
    )
    web = only(php.detect(repo, "."))
    assert web.framework == "symfony"
    assert web.language_version == "8.3"  # config.platform.php
    assert web.evidence["language_version"] == ev(
        "composer.json", 7, '"config": {"platform": {"php": "8.3.4"}}'
    )
    assert web.services == ("postgres",)
    assert web.evidence["services"] == ev(".env.example", 1, "DATABASE_URL=postgresql://…")
    assert web.migrate_command == "php bin/console doctrine:migrations:migrate --no-interaction"
    assert web.migration_tool == "doctrine-migrations"
    assert web.health_path == "/healthz"
    assert web.evidence["health_path"] == ev("src/Controller/HealthController.php", 3, "#[Route('/healthz')]")
    assert web.test_command is None


def test_library_is_tooling_and_bad_manifests_warn(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "lib/composer.json": '{"require": {"php": ">=8.1", "monolog/monolog": "^3"}}',
            "bad/composer.json": '{"require": ',
            "list/composer.json": "[1, 2]",
        },
    )
    detection = php.detect(repo, "lib")
    assert detection is not None and detection.strength == Strength.TOOLING
    assert only(detection).language_version == "8.1"
    assert php.detect(repo, "bad") is None
    assert php.detect(repo, "list") is None
    assert repo.warnings == [
        "bad/composer.json:1: malformed JSON (Expecting value); ignored",
        "list/composer.json: not a JSON object; ignored",
    ]


def test_composer_files_patches_auth_json_and_path_repositories(tmp_path: Path) -> None:
    composer = """
        {
            "require": {"php": "^8.3", "slim/slim": "^4.12", "cweagans/composer-patches": "^1.7"},
            "repositories": [{"type": "path", "url": "packages/*"}],
            "extra": {
                "patches-file": "composer.patches.json",
                "patches": {"slim/slim": {"Fix routing": "patches/slim-routing.patch",
                                          "Upstream": "https://example.com/fix.patch"}}
            }
        }
        """
    files = {
        "composer.json": composer,
        "composer.lock": "{}\n",
        "composer.patches.json": "{}\n",
        "patches/slim-routing.patch": "--- a\n",
        "auth.json": '{"http-basic": {"repo.acme.dev": {"username": "ci", "password": "s3cret"}}}\n',
        "public/index.php": "<?php\n",
    }
    stack = detect_stack(make_repo(tmp_path, files))
    web = stack.components[0]
    assert web.dependency_files == (
        "composer.json",
        "composer.lock",
        "composer.patches.json",
        "patches/slim-routing.patch",
    )
    assert stack.warnings == (
        "auth.json: holds Composer credentials; not copied with the dependency files (an image layer would "
        "keep it): give the install a BuildKit secret instead (RUN --mount=type=secret) and keep the file "
        "out of the image (.dockerignore)",
        "composer.json: a path repository (packages/*) is installed from the repository's own files; the "
        "image's `composer install` runs before the source is copied, so it cannot find them there",
    )
