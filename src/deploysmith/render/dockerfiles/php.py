"""PHP (Laravel and other front-controller apps): Composer dependencies and the PHP
extensions built in the CLI image, served by Apache (mod_php) as www-data on port 8080.

The official php images keep a C toolchain ($PHPIZE_DEPS) so extensions can be compiled
in place; the runtime stage removes it, and gets the compiled extensions copied in.
"""

from __future__ import annotations

from deploysmith.render.dockerfiles.base import (
    COMPOSER_IMAGE,
    DevSetup,
    ImageContext,
    Writer,
    cache,
    copy_manifests,
    probe_url,
    worker_note,
)

# PHP extension for a backing service: (extension, build headers, runtime library).
DB_EXTENSIONS = {
    "postgres": ("pdo_pgsql", "libpq-dev", "libpq5"),
    "mysql": ("pdo_mysql", None, None),
    "mariadb": ("pdo_mysql", None, None),
}
# The official images' PHPIZE_DEPS (libc-dev is the virtual name of libc6-dev): the compilers
# docker-php-ext-install needs.
PHPIZE_DEPS = ("autoconf", "dpkg-dev", "file", "g++", "gcc", "libc6-dev", "make", "pkg-config", "re2c")
EXTENSION_DIR = "/usr/local/lib/php/extensions/"
CONF_DIR = "/usr/local/etc/php/conf.d/"


def _extensions(ctx: ImageContext) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    extensions: dict[str, None] = {}
    headers: dict[str, None] = {}
    libraries: dict[str, None] = {}
    for service in ctx.services:
        if service in DB_EXTENSIONS:
            extension, header, library = DB_EXTENSIONS[service]
            extensions.setdefault(extension, None)
            if header:
                headers.setdefault(header, None)
            if library:
                libraries.setdefault(library, None)
    return tuple(extensions), tuple(headers), tuple(libraries)


def _laravel(ctx: ImageContext) -> bool:
    return ctx.component.framework == "laravel"


def apache_conf(port: int, document_root: str) -> str:
    return f"""\
# Written by the Dockerfile (deploysmith): the app's front controller on port {port}.
<VirtualHost *:{port}>
    DocumentRoot {document_root}
    <Directory {document_root}>
        AllowOverride All
        Require all granted
    </Directory>
    ErrorLog ${{APACHE_LOG_DIR}}/error.log
    CustomLog ${{APACHE_LOG_DIR}}/access.log combined
</VirtualHost>
"""


def build(ctx: ImageContext, out: Writer) -> None:
    image = ctx.image
    port = ctx.port or 8080
    extensions, headers, libraries = _extensions(ctx)
    out.arg("COMPOSER_IMAGE", COMPOSER_IMAGE)
    out.stage("${COMPOSER_IMAGE}", "composer", "composer: only its binary is used, in the deps stage.")

    out.stage(
        "${BUILD_IMAGE}", "extensions",
        "extensions: PHP extensions the app needs, compiled here (keep BUILD_IMAGE and "
        "RUNTIME_IMAGE on the same PHP minor version: the runtime loads these builds).",
    )
    install = ["docker-php-ext-install -j\"$(nproc)\" " + " ".join(extensions)] if extensions else []
    out.comment(
        "opcache caches compiled scripts; PHP 8.5 has it built in, older lines ship it as an "
        "extension to enable."
    )
    enable_opcache = (
        'if [ -f "$(php-config --extension-dir)/opcache.so" ]; then docker-php-ext-enable opcache; fi'
    )
    if headers:
        out.apt_install(headers, *install, enable_opcache)
    else:
        out.run(*install, enable_opcache)

    out.stage(
        "extensions", "deps",
        "deps: Composer installs the locked production packages (no dev packages, no scripts, "
        "which need the source); reused until composer.json or composer.lock changes.",
    )
    out.comment("unzip: Composer unpacks package archives with it.")
    out.apt_install(("unzip",))
    out.line("COPY --from=composer /usr/bin/composer /usr/bin/composer")
    out.env("COMPOSER_ALLOW_SUPERUSER=1", "COMPOSER_CACHE_DIR=/root/.cache/composer")
    out.line("WORKDIR /app")
    locked = ctx.has("composer.lock")
    copy_manifests(out, ctx.manifests or ("composer.json", "composer.lock"))
    if not locked:
        out.comment(
            "NOTE: no composer.lock was found, so this install is not reproducible: commit it and "
            "regenerate."
        )
    out.run(
        "composer install --no-dev --no-scripts --no-autoloader --no-interaction --prefer-dist",
        mounts=(cache("/root/.cache/composer"),),
    )

    out.stage(
        "deps", "build",
        "build: the source, and the optimised autoloader (this runs the package scripts, e.g. "
        "Laravel's package discovery).",
    )
    out.line("COPY . .")
    out.run("composer dump-autoload --optimize --classmap-authoritative --no-dev --no-interaction")

    document_root = "/app/public" if _laravel(ctx) or ctx.has("public/index.php") else "/app"
    out.stage(
        "${RUNTIME_IMAGE}", "runtime",
        f"runtime: PHP with Apache (mod_php) as www-data (uid {image.uid}) on port {port}; the "
        "compilers of the official image removed, the extensions copied in.",
    )
    purge = "apt-get purge -y --auto-remove " + " ".join(PHPIZE_DEPS)
    if libraries:
        out.comment(
            "Shared libraries the extensions link against; the C toolchain the official image "
            "keeps for docker-php-ext-install is removed."
        )
        out.apt_install(libraries, purge)
    else:
        out.comment("The C toolchain the official image keeps for docker-php-ext-install is removed.")
        out.run(purge)
    out.line(f"COPY --from=extensions {EXTENSION_DIR} {EXTENSION_DIR}")
    out.line(f"COPY --from=extensions {CONF_DIR} {CONF_DIR}")
    out.heredoc("/etc/apache2/ports.conf", f"Listen {port}\nServerName localhost\n")
    out.heredoc("/etc/apache2/sites-available/000-default.conf", apache_conf(port, document_root))
    out.run(
        'cp "$PHP_INI_DIR/php.ini-production" "$PHP_INI_DIR/php.ini"',
        "a2enmod rewrite",
    )
    out.line("WORKDIR /app")
    out.line("COPY --from=build /app /app")
    if _laravel(ctx):
        out.comment(
            "Laravel writes caches, sessions and logs under storage/ and bootstrap/cache: the only "
            "paths the app owns, which is why this image keeps a writable root filesystem."
        )
        out.run(
            "mkdir -p storage/framework/cache storage/framework/sessions storage/framework/views "
            "storage/logs bootstrap/cache",
            f"chown -R {image.uid}:{image.uid} storage bootstrap/cache",
        )
    out.line(f"USER {image.uid}:{image.uid}")
    out.line(f"EXPOSE {port}")
    url = probe_url(ctx.lead)
    if url or ctx.lead.probe.kind == "tcp":
        target = url or f"http://127.0.0.1:{port}/"
        out.comment(
            "For docker and compose (php itself fetches the URL); Kubernetes ignores HEALTHCHECK "
            "and uses the probes in the manifests."
        )
        out.healthcheck(("php", "-r", f"exit(@file_get_contents('{target}') === false ? 1 : 0);"))
    note = worker_note(ctx)
    detected = ctx.component.start_command
    out.comment(
        "Apache is PID 1 (apache2-foreground execs it) and stops gracefully on SIGWINCH, the "
        "image's STOPSIGNAL."
        + (f" The detected start command (`{detected}`) is a development server; Apache replaces it."
           if detected else "")
        + (f" {note}" if note else "")
    )
    out.exec_form("CMD", ["apache2-foreground"])


def ignore(ctx: ImageContext) -> tuple[str, ...]:
    return (
        "# PHP: Composer installs vendor/ inside the image",
        "vendor/",
        "**/node_modules/",
        "# Laravel runtime files: caches, sessions, compiled views and logs from local runs",
        "storage/logs/*",
        "storage/framework/cache/*",
        "storage/framework/sessions/*",
        "storage/framework/views/*",
        "bootstrap/cache/*.php",
        "public/storage",
        "public/hot",
        "# Tests: no stage runs them (CI runs them on the source), so they stay out",
        "tests/",
        ".phpunit.result.cache",
        ".phpunit.cache/",
    )


def dev(ctx: ImageContext) -> DevSetup:
    return DevSetup(
        target="runtime",
        reason="the production image (Apache, php.ini-production), rebuilt by compose watch when a "
        "file changes",
    )
