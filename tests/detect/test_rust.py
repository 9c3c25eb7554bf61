from __future__ import annotations

from pathlib import Path

from deploysmith.detect import detect_stack, rust
from deploysmith.detect.base import Strength
from deploysmith.model import Evidence
from tests.detect.ecosystem_fixtures import ev, make_repo, only

WORKSPACE = {
    "Cargo.toml": """
        [workspace]
        members = ["crates/*"]
        resolver = "2"

        [workspace.package]
        rust-version = "1.78"

        [workspace.dependencies]
        sqlx = { version = "0.7", features = ["runtime-tokio", "postgres"] }
        """,
    "Cargo.lock": "# lock\n",
    "crates/api/Cargo.toml": """
        [package]
        name = "api"
        version = "0.1.0"
        rust-version.workspace = true

        [dependencies]
        axum = "0.7"
        sqlx = { workspace = true }
        redis = { version = "0.25" }
        tokio = { version = "1", features = ["full"] }
        """,
    "crates/api/src/main.rs": """
        use axum::{routing::get, Router};

        #[tokio::main]
        async fn main() {
            sqlx::migrate!().run(&pool).await.unwrap();
            let app = Router::new()
                .route("/healthz", get(|| async { "ok" }));
            let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await.unwrap();
            axum::serve(listener, app).await.unwrap();
        }
        """,
    "crates/worker/Cargo.toml": '[package]\nname = "worker"\nversion = "0.1.0"\n\n'
    '[dependencies]\nlapin = "2"\n',
    "crates/worker/src/main.rs": "fn main() {\n    loop {}\n}\n",
    "crates/shared/Cargo.toml": '[package]\nname = "shared"\nversion = "0.1.0"\n',
    "crates/shared/src/lib.rs": "pub fn f() {}\n",
}


def test_workspace_root_owns_member_binaries(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, WORKSPACE)
    assert rust.detect(repo, "crates/api") is None
    detection = rust.detect(repo, ".")
    assert detection is not None and detection.strength == Strength.APP
    api, worker = detection.components
    assert (api.name, api.path, api.kind, api.language, api.framework) == ("api", ".", "web", "rust", "axum")
    assert api.evidence["framework"] == ev("crates/api/Cargo.toml", 7, 'axum = "0.7"')
    assert api.evidence["kind"] == ev(
        "crates/api/src/main.rs",
        8,
        'let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await.unwrap();',
    )
    assert api.port == 3000
    assert api.evidence["port"] == api.evidence["kind"]
    assert api.health_path == "/healthz"
    assert api.evidence["health_path"] == ev(
        "crates/api/src/main.rs", 7, '.route("/healthz", get(|| async { "ok" }));'
    )
    assert api.language_version == "1.78"
    assert api.evidence["language_version"] == ev("Cargo.toml", 6, 'rust-version = "1.78"')
    assert api.package_manager == "cargo"
    assert api.build_command == "cargo build --release -p api"
    assert api.build_target == "api"
    assert api.build_output == "target/release/api"
    assert api.start_command == "/app/api"
    assert api.evidence["start_command"] == ev("crates/api/src/main.rs", 4, "async fn main() {")
    assert api.test_command == "cargo test -p api"
    assert api.lint_command == "cargo clippy -p api -- -D warnings"
    # sqlx's postgres feature is declared in [workspace.dependencies].
    assert api.services == ("postgres", "redis")
    assert [e.line for e in api.evidence["services"]] == [8, 9]
    assert (api.migration_tool, api.migrate_command) == ("sqlx", None)
    assert api.evidence["migration_tool"] == ev(
        "crates/api/src/main.rs",
        5,
        "sqlx::migrate!().run(&pool).await.unwrap(); (the app applies them at startup)",
    )
    assert api.dependency_files == (
        "Cargo.toml",
        "Cargo.lock",
        "crates/api/Cargo.toml",
        "crates/shared/Cargo.toml",
        "crates/worker/Cargo.toml",
    )

    assert (worker.name, worker.kind, worker.port, worker.framework) == ("worker", "worker", None, None)
    assert worker.services == ("rabbitmq",)
    assert worker.language_version is None
    assert worker.build_command == "cargo build --release -p worker"


def test_single_crate_with_toolchain_localhost_bind_and_migrations_folder(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "Cargo.toml": '[package]\nname = "hello-web"\nrust-version = "1.70"\n\n'
            '[dependencies]\nactix-web = "4"\n'
            'sqlx = { version = "0.7", features = ["mysql"] }\n',
            "rust-toolchain.toml": '[toolchain]\nchannel = "1.80.1"\n',
            "src/main.rs": """
                use actix_web::{get, App, HttpServer};

                #[get("/health")]
                async fn health() -> &'static str { "ok" }

                #[actix_web::main]
                async fn main() -> std::io::Result<()> {
                    HttpServer::new(|| App::new().service(health))
                        .bind(("127.0.0.1", 8080))?
                        .run()
                        .await
                }
                """,
            "migrations/20240101_init.sql": "create table t (id int);\n",
            "tests/api.rs": "#[test]\nfn t() {}\n",
        },
    )
    app = only(rust.detect(repo, "."))
    assert (app.name, app.framework, app.port, app.health_path) == ("", "actix-web", 8080, "/health")
    assert app.evidence["port"] == ev("src/main.rs", 9, '.bind(("127.0.0.1", 8080))?')
    assert repo.warnings == [
        "src/main.rs:9: binds 127.0.0.1, unreachable from outside a container; bind 0.0.0.0"
    ]
    assert app.language_version == "1.80.1"  # the toolchain file wins over rust-version
    assert app.evidence["language_version"] == ev("rust-toolchain.toml", 2, 'channel = "1.80.1"')
    assert (app.build_command, app.build_target) == ("cargo build --release", None)
    assert app.build_output == "target/release/hello-web"
    assert app.test_command == "cargo test"
    assert app.evidence["test_command"] == ev("tests/api.rs", None, "")
    assert app.services == ("mysql",)
    assert (app.migration_tool, app.migrate_command) == ("sqlx", "sqlx migrate run")
    assert app.evidence["migrate_command"] == ev(
        "migrations/20240101_init.sql", None, "sqlx migrations (needs the sqlx CLI)"
    )
    assert app.dependency_files == ("Cargo.toml", "rust-toolchain.toml")


def test_several_binaries_in_one_package(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            # (Repo does not list folders named bin/, so src/bin/*.rs targets are declared here.)
            "Cargo.toml": '[package]\nname = "shop"\n\n[[bin]]\nname = "seed"\npath = "src/tools/seed.rs"\n\n'
            '[dependencies]\naxum = "0.7"\n',
            "src/main.rs": "fn main() { shop::serve(); }\n",
            "src/lib.rs": 'pub fn serve() { axum::serve(listener("[::]:8000"), app()); }\n',
            "src/tools/seed.rs": "fn main() { shop::seed(); }\n",
        },
    )
    detection = rust.detect(repo, ".")
    assert detection is not None
    seed, shop = detection.components
    assert (shop.name, shop.kind, shop.port, shop.framework) == ("shop", "web", 8000, "axum")
    assert shop.evidence["kind"] == ev(
        "src/lib.rs", 1, 'pub fn serve() { axum::serve(listener("[::]:8000"), app()); }'
    )
    assert shop.build_command == "cargo build --release --bin shop"
    assert (seed.name, seed.kind, seed.port) == ("seed", "worker", None)
    assert seed.build_command == "cargo build --release --bin seed"
    assert seed.start_command == "/app/seed"


def test_rocket_default_port_is_marked_default(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "Cargo.toml": '[package]\nname = "r"\n\n[dependencies]\nrocket = "0.5"\n',
            "src/main.rs": "#[launch]\nfn rocket() -> _ {\n    rocket::build()\n}\n",
        },
    )
    app = only(rust.detect(repo, "."))
    assert app.port == 8000
    assert app.evidence["port"] == (
        Evidence("src/main.rs", 1, "#[launch] (no port in the code; 8000 assumed)", default=True),
    )


def test_library_crate_is_tooling_and_malformed_manifest_warns(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "lib/Cargo.toml": '[package]\nname = "lib"\n',
            "lib/src/lib.rs": "\n",
            "bad/Cargo.toml": "[package\nname = 1\n",
        },
    )
    detection = rust.detect(repo, "lib")
    assert detection is not None and detection.strength == Strength.TOOLING
    assert rust.detect(repo, "bad") is None
    assert len(repo.warnings) == 1 and repo.warnings[0].startswith("bad/Cargo.toml: malformed TOML")


def test_cargo_fetch_reads_config_toolchain_and_path_dependencies(tmp_path: Path) -> None:
    files = {
        "svc/Cargo.toml": """
            [package]
            name = "svc"
            version = "0.1.0"

            [dependencies]
            core = { path = "libs/core" }
            proto = { path = "../proto" }

            [target.'cfg(unix)'.dependencies]
            unix-helpers = { path = "libs/unix" }

            [patch.crates-io]
            serde = { path = "vendor-patches/serde" }
            """,
        "svc/Cargo.lock": "# lock\n",
        "svc/rust-toolchain.toml": '[toolchain]\nchannel = "1.80.0"\n',
        "svc/.cargo/config.toml": '[source.crates-io]\nreplace-with = "mirror"\n',
        "svc/src/main.rs": "fn main() {}\n",
        "svc/libs/core/Cargo.toml": '[package]\nname = "core"\n',
        "svc/libs/unix/Cargo.toml": '[package]\nname = "unix-helpers"\n',
        "svc/vendor-patches/serde/Cargo.toml": '[package]\nname = "serde"\n',
        "proto/Cargo.toml": '[package]\nname = "proto"\n',
    }
    stack = detect_stack(make_repo(tmp_path, files))
    svc = next(c for c in stack.components if c.path == "svc")
    assert svc.dependency_files == (
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
        ".cargo/config.toml",
        "libs/core/Cargo.toml",
        "libs/unix/Cargo.toml",
        "vendor-patches/serde/Cargo.toml",
    )
    assert stack.warnings == (
        "svc: cargo reads proto/Cargo.toml, outside svc, the folder the image is built from; the image build "
        "cannot see it",
    )


def test_cargo_config_with_a_registry_token_is_not_copied(tmp_path: Path) -> None:
    files = {
        "Cargo.toml": '[package]\nname = "svc"\nversion = "0.1.0"\n',
        ".cargo/config.toml": '[registries.acme]\nindex = "sparse+https://crates.acme.dev/"\ntoken = "abc"\n',
        "src/main.rs": "fn main() {}\n",
    }
    stack = detect_stack(make_repo(tmp_path, files))
    assert stack.components[0].dependency_files == ("Cargo.toml",)
    assert stack.warnings[0].startswith(".cargo/config.toml: holds registry credentials (token); not copied")
