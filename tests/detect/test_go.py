from __future__ import annotations

from pathlib import Path

from deploysmith.detect import detect_stack, go
from deploysmith.detect.base import Strength
from deploysmith.model import Evidence
from tests.detect.ecosystem_fixtures import ev, make_repo, only

GO_MOD = """
module github.com/acme/shop/v2

go 1.22.3

require (
    github.com/gin-gonic/gin v1.10.0
    github.com/jackc/pgx/v5 v5.5.0
    github.com/redis/go-redis/v9 v9.5.1
    github.com/golang-migrate/migrate/v4 v4.17.0
    golang.org/x/sys v0.1.0 // indirect
)

require github.com/segmentio/kafka-go v0.4.47 // indirect
"""

API_MAIN = """
package main

import (
    "log"

    "github.com/acme/shop/v2/internal/server"
)

func main() {
    log.Fatal(server.Run())
}
"""

SERVER = """
package server

import (
    "os"

    "github.com/gin-gonic/gin"
)

func Run() error {
    r := gin.Default()
    r.GET("/healthz", func(c *gin.Context) { c.String(200, "ok") })
    port := os.Getenv("PORT")
    if port == "" {
        port = "9000"
    }
    return r.Run(":" + port)
}
"""


def multi_binary(tmp_path: Path) -> dict[str, str | bytes]:
    return {
        "go.mod": GO_MOD,
        "go.sum": "",
        "cmd/api/main.go": API_MAIN,
        "internal/server/server.go": SERVER,
        "internal/server/server_test.go": "package server\n",
        "cmd/worker/main.go": 'package main\n\nimport "github.com/acme/shop/v2/internal/jobs"\n\n'
        "func main() { jobs.Loop() }\n",
        "internal/jobs/jobs.go": "package jobs\n\nfunc Loop() {}\n",
        "cmd/migrate/main.go": "package main\n\nfunc main() {}\n",
    }


def test_multi_binary_module_gives_one_component_per_cmd(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, multi_binary(tmp_path))
    detection = go.detect(repo, ".")

    assert detection is not None
    assert detection.strength == Strength.APP
    api, worker = detection.components
    assert (api.name, api.kind, api.path, api.language) == ("api", "web", ".", "go")
    assert api.framework == "gin"
    assert api.evidence["framework"] == ev("internal/server/server.go", 6, '"github.com/gin-gonic/gin"')
    assert api.build_target == "./cmd/api"
    assert api.build_command == "CGO_ENABLED=0 go build -o /app/api ./cmd/api"
    assert api.build_output == "/app/api"
    assert api.start_command == "/app/api"
    assert api.evidence["start_command"] == ev("cmd/api/main.go", 9, "func main() {")
    # The listen call is in the package main imports, not in main.go.
    assert api.evidence["kind"] == ev("internal/server/server.go", 16, 'return r.Run(":" + port)')
    assert api.port == 9000
    assert api.evidence["port"] == ev("internal/server/server.go", 14, 'port = "9000"')
    assert api.health_path == "/healthz"
    assert api.evidence["health_path"][0].line == 11
    assert api.language_version == "1.22"
    assert api.evidence["language_version"] == ev("go.mod", 3, "go 1.22.3")
    assert api.package_manager == "go"
    assert api.services == ("postgres", "redis")  # indirect kafka-go does not count
    assert [(e.file, e.line) for e in api.evidence["services"]] == [("go.mod", 7), ("go.mod", 8)]
    assert api.migration_tool == "golang-migrate"
    assert api.evidence["migration_tool"] == ev("go.mod", 9, "github.com/golang-migrate/migrate/v4 v4.17.0")
    assert api.migrate_command == "/app/migrate"
    assert api.evidence["migrate_command"] == ev(
        "cmd/migrate/main.go", 3, "func main() {} (a migration binary built into the same image)"
    )
    assert api.test_command == "go test ./..."
    assert api.evidence["test_command"] == ev("internal/server/server_test.go", None, "")
    assert api.lint_command == "go vet ./..."
    assert api.evidence["lint_command"] == ev("go.mod", None, "no golangci-lint config", default=True)
    assert api.dependency_files == ("go.mod", "go.sum")

    assert (worker.name, worker.kind, worker.port, worker.framework) == ("worker", "worker", None, None)
    assert worker.build_command == "CGO_ENABLED=0 go build -o /app/worker ./cmd/worker"
    assert worker.health_path is None
    assert "kind" not in worker.evidence
    assert worker.services == ("postgres", "redis")


def test_single_root_binary_with_net_http(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "go.mod": "module example.com/hello\n\ngo 1.23\n",
            ".golangci.yml": "linters: {}\n",
            "main.go": """
                package main

                import (
                    "net/http"
                )

                func main() {
                    mux := http.NewServeMux()
                    mux.HandleFunc("GET /ping", ping)
                    mux.HandleFunc("GET /healthz", ping)
                    http.ListenAndServe(":8081", mux)
                }
                """,
        },
    )
    detection = go.detect(repo, ".")
    assert detection is not None and detection.strength == Strength.APP
    component = only(detection)
    assert component.name == ""  # one binary: the core names it after the folder
    assert (component.kind, component.framework) == ("web", "net/http")
    assert component.evidence["framework"] == ev("main.go", 4, '"net/http"')
    assert component.build_target == "."
    assert component.build_command == "CGO_ENABLED=0 go build -o /app/hello ."
    assert component.port == 8081
    assert component.evidence["port"] == ev("main.go", 11, 'http.ListenAndServe(":8081", mux)')
    assert component.health_path == "/healthz"  # preferred over /ping
    assert component.evidence["health_path"] == ev("main.go", 10, 'mux.HandleFunc("GET /healthz", ping)')
    assert component.lint_command == "golangci-lint run"
    assert component.evidence["lint_command"] == ev(".golangci.yml", None, "")
    assert component.test_command == "go test ./..."
    assert component.evidence["test_command"][0].default is True
    assert component.dependency_files == ("go.mod",)


def test_port_defaults_to_8080_marked_default(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "go.mod": "module example.com/svc\n\ngo 1.22\n\nrequire github.com/go-chi/chi/v5 v5.0.12\n",
            "main.go": """
                package main

                import (
                    "net/http"
                    "os"

                    "github.com/go-chi/chi/v5"
                )

                func main() {
                    r := chi.NewRouter()
                    http.ListenAndServe(os.Getenv("ADDR"), r)
                }
                """,
        },
    )
    component = only(go.detect(repo, "."))
    assert component.framework == "chi"
    assert component.port == 8080
    assert component.evidence["port"] == (
        Evidence(
            "main.go",
            12,
            'http.ListenAndServe(os.Getenv("ADDR"), r) (no port in the code; 8080 assumed)',
            default=True,
        ),
    )


def test_cgo_driver_keeps_cgo_enabled(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "go.mod": "module example.com/tool\n\ngo 1.22\n\nrequire github.com/mattn/go-sqlite3 v1.14.22\n",
            "main.go": "package main\n\nfunc main() {}\n",
        },
    )
    detection = go.detect(repo, ".")
    assert detection is not None and detection.strength == Strength.RUNNABLE
    component = only(detection)
    assert component.kind == "worker"
    assert component.build_command == "go build -o /app/tool ."
    assert component.evidence["build_command"] == ev(
        "go.mod", 5, "require github.com/mattn/go-sqlite3 v1.14.22 (needs cgo: CGO_ENABLED stays on)"
    )


def test_library_nested_modules_and_ignored_generators_are_not_binaries(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "go.mod": "module example.com/lib\n\ngo 1.21\n",
            "lib.go": "package lib\n",
            "gen.go": "//go:build ignore\n\npackage main\n\nfunc main() {}\n",
            "tools/go.mod": "module example.com/lib/tools\n",
            "tools/main.go": "package main\n\nfunc main() {}\n",
            "examples/demo/main.go": "package main\n\nfunc main() {}\n",
        },
    )
    detection = go.detect(repo, ".")
    assert detection is not None and detection.strength == Strength.TOOLING
    assert only(detection).test_command == "go test ./..."


def test_main_package_outside_cmd_is_found(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "go.mod": "module example.com/svc\n",
            "server/main.go": 'package main\n\nimport "net/http"\n\n'
            'func main() { http.ListenAndServe(":7000", nil) }\n',
        },
    )
    component = only(go.detect(repo, "."))
    assert (component.build_target, component.port, component.language_version) == ("./server", 7000, None)


def test_module_in_a_subfolder(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "backend/go.mod": "module example.com/backend\n",
            "backend/cmd/api/main.go": 'package main\n\nimport "net/http"\n\n'
            'func main() { http.ListenAndServe(":8080", nil) }\n',
        },
    )
    component = only(go.detect(repo, "backend"))
    assert component.path == "backend"
    assert component.build_target == "./cmd/api"
    assert component.build_command == "CGO_ENABLED=0 go build -o /app/api ./cmd/api"
    assert component.evidence["port"] == ev(
        "backend/cmd/api/main.go", 5, 'func main() { http.ListenAndServe(":8080", nil) }'
    )


def test_local_replace_outside_the_module_is_reported(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "svc/go.mod": "module example.com/svc\n\nreplace example.com/shared => ../shared\n",
            "svc/main.go": "package main\n\nfunc main() {}\n",
            "shared/go.mod": "module example.com/shared\n",
        },
    )
    assert only(go.detect(repo, "svc")).kind == "worker"
    assert repo.warnings == [
        "svc/go.mod: replaces a module with ../shared, outside svc; "
        "the image build cannot see it unless it starts from a folder that holds both"
    ]


def test_go_mod_without_module_directive_warns(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"go.mod": "this is not a go.mod\n", "main.go": "package main\n"})
    assert go.detect(repo, ".") is None
    assert repo.warnings == ["go.mod: no module directive; not read as a Go module"]


def test_parse_gomod_blocks_and_comments() -> None:
    mod = go.parse_gomod(
        "module x\n// comment\ngo 1.21.0\ntoolchain go1.22.1\nrequire (\n a/b v1\n c/d v2 // indirect\n)\n"
        "replace a/b => ../b\nrequire e/f v3\n"
    )
    assert (mod.module, mod.go, mod.requires) == ("x", ("1.21.0", 3), {"a/b": 6, "e/f": 10})
    assert mod.local == ["../b"]


MAIN = "package main\n\nfunc main() {}\n"


def test_go_workspace_in_the_folder_lists_members_and_local_replacements(tmp_path: Path) -> None:
    files = {
        "go.mod": "module example.com/shop\n\ngo 1.22\n\nreplace example.com/pb => ./internal/pb\n",
        "go.sum": "",
        "go.work": "go 1.22\n\nuse (\n    .\n    ./tools // generators\n)\n",
        "go.work.sum": "",
        "tools/go.mod": "module example.com/shop/tools\n\ngo 1.22\n",
        "tools/go.sum": "",
        "internal/pb/go.mod": "module example.com/pb\n\ngo 1.22\n",
        "main.go": MAIN,
    }
    component = only(go.detect(make_repo(tmp_path, files), "."))
    assert component.dependency_files == (
        "go.mod",
        "go.sum",
        "go.work",
        "go.work.sum",
        "tools/go.mod",
        "tools/go.sum",
        "internal/pb/go.mod",
    )


def test_a_module_needing_a_go_work_above_it_is_reported(tmp_path: Path) -> None:
    files = {
        "go.work": "go 1.22\n\nuse ./api\nuse ./shared\n",
        "api/go.mod": "module example.com/api\n\ngo 1.22\n\nrequire example.com/shared v0.0.0\n",
        "api/main.go": MAIN,
        "shared/go.mod": "module example.com/shared\n\ngo 1.22\n",
        "shared/shared.go": "package shared\n",
    }
    stack = detect_stack(make_repo(tmp_path, files))
    api = next(c for c in stack.components if c.path == "api")
    assert api.dependency_files == ("go.mod",)
    assert stack.warnings == (
        "api/go.mod: requires example.com/shared, which go.work provides from shared; the image is built "
        "from api alone, where go.work does not apply: add a replace directive or publish the module",
    )
