from __future__ import annotations

import pytest

from deploysmith.audit import dockerfile
from tests.audit.helpers import hits, run_family


def docker(text: str, rule: str, extra: dict[str, str] | None = None) -> list[tuple[str, int | None]]:
    return hits("dockerfile", {"Dockerfile": text, ".dockerignore": ".git\n", **(extra or {})}, rule)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM python:3.13\n", [("DS-DOCKER-001", 1)]),
        ("FROM python:3.13\nUSER root\n", [("DS-DOCKER-001", 2)]),
        ("FROM python:3.13\nUSER 0:0\n", [("DS-DOCKER-001", 2)]),
        ("FROM python:3.13\nUSER 10001\n", []),
        ("FROM python:3.13\nUSER 10001\nRUN x\nUSER root\n", [("DS-DOCKER-001", 4)]),
        ("FROM python:3.13\nUSER root\nRUN apt-get x\nUSER app\n", []),
        # the USER of a stage the final stage is built from carries over
        ('FROM python:3.13 AS base\nUSER 10001\nFROM base\nCMD ["x"]\n', []),
        # but not from an unrelated stage
        ("FROM python:3.13 AS build\nUSER 10001\nFROM python:3.13\n", [("DS-DOCKER-001", 3)]),
        ("FROM gcr.io/distroless/python3-debian13:nonroot\n", []),
        ("FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled\n", []),
        ("FROM scratch\nCOPY app /app\n", [("DS-DOCKER-001", 1)]),
    ],
)
def test_user_root(text: str, expected: list[tuple[str, int]]) -> None:
    assert docker(text, "DS-DOCKER-001") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM python\n", [("DS-DOCKER-002", 1)]),
        ("FROM python:latest\n", [("DS-DOCKER-002", 1)]),
        ("FROM --platform=$BUILDPLATFORM golang AS build\n", [("DS-DOCKER-002", 1)]),
        ("FROM python:3.13\n", []),
        ("FROM python@sha256:0123\n", []),
        ("FROM python:latest@sha256:0123\n", []),
        ("FROM scratch\n", []),
        ("FROM golang:1.25 AS build\nFROM build AS test\nFROM BUILD\n", []),
        ("FROM registry:5000/app\n", [("DS-DOCKER-002", 1)]),
        ("ARG BASE=python:3.13\nFROM $BASE\n", []),
        ("ARG BASE=python\nFROM ${BASE}\n", [("DS-DOCKER-002", 2)]),
        ("ARG BASE\nFROM ${BASE}\n", []),  # unknown until build time
    ],
)
def test_base_latest(text: str, expected: list[tuple[str, int]]) -> None:
    assert docker(text, "DS-DOCKER-002") == expected


def test_base_latest_message_names_the_image() -> None:
    (finding,) = [
        f for f in run_family("dockerfile", {"Dockerfile": "FROM node\n"}) if f.rule == "DS-DOCKER-002"
    ]
    assert finding.message.startswith("base image `node` has no tag")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a:1\nADD https://example.com/x.tgz /x\n", [("DS-DOCKER-003", 2)]),
        ("FROM a:1\nADD git@github.com:acme/repo.git /src\n", [("DS-DOCKER-003", 2)]),
        ("FROM a:1\nADD --checksum=sha256:ab https://example.com/x.tgz /x\n", []),
        ("FROM a:1\nADD app.tar.gz /app\n", []),
        ("FROM a:1\nCOPY https-notes.txt /x\n", []),
    ],
)
def test_add_remote(text: str, expected: list[tuple[str, int]]) -> None:
    assert docker(text, "DS-DOCKER-003") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a:1\nCMD python app.py\n", [("DS-DOCKER-004", 2)]),
        ("FROM a:1\nENTRYPOINT exec app\n", [("DS-DOCKER-004", 2)]),
        ('FROM a:1\nCMD ["python", "app.py"]\n', []),
        ("FROM a:1\nCMD [python, app.py]\n", [("DS-DOCKER-004", 2)]),  # not JSON: shell form
        ('FROM a:1 AS build\nCMD make\nFROM b:1\nCMD ["app"]\n', []),  # not the final image
    ],
)
def test_shell_form(text: str, expected: list[tuple[str, int]]) -> None:
    assert docker(text, "DS-DOCKER-004") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a:1\nENV DB_PASSWORD=hunter2\n", [("DS-DOCKER-005", 2)]),
        ("FROM a:1\nENV API_KEY abc\n", [("DS-DOCKER-005", 2)]),
        ("FROM a:1\nARG GITHUB_TOKEN=ghx\n", [("DS-DOCKER-005", 2)]),
        ("FROM a:1\nENV A=1 SECRET_KEY=$SECRET_KEY\n", [("DS-DOCKER-005", 2)]),
        ("FROM a:1\nARG NPM_TOKEN\n", []),
        ("FROM a:1\nENV DB_PASSWORD=\n", []),
        ("FROM a:1\nENV DB_PASSWORD_FILE=/run/secrets/db\n", []),
        ("FROM a:1\nENV TOKEN_URL=https://auth/token PASSWORD_MIN_LENGTH=12\n", []),
    ],
)
def test_secret_env(text: str, expected: list[tuple[str, int]]) -> None:
    assert docker(text, "DS-DOCKER-005") == expected


def test_add_remote_message_hides_url_credentials() -> None:
    text = "FROM a:1\nADD https://ci:s3cr3t@artifacts.example.com/app.tgz /app\n"
    (finding,) = [f for f in run_family("dockerfile", {"Dockerfile": text}) if f.rule == "DS-DOCKER-003"]
    assert "s3cr3t" not in finding.message
    assert "`https://***@artifacts.example.com/app.tgz`" in finding.message


def test_secret_env_message_never_shows_the_value() -> None:
    findings = run_family("dockerfile", {"Dockerfile": "FROM a:1\nENV DB_PASSWORD=hunter2\nUSER 1\n"})
    (finding,) = [f for f in findings if f.rule == "DS-DOCKER-005"]
    assert "hunter2" not in finding.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a:1\nRUN apt-get update && apt-get install -y curl\n", [("DS-DOCKER-006", 2)]),
        ("FROM a:1\nRUN apt-get install -y --no-install-recommends curl\n", [("DS-DOCKER-006", 2)]),
        ("FROM a:1\nRUN apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n", [("DS-DOCKER-006", 2)]),
        (
            "FROM a:1\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends curl \\\n"
            " && rm -rf /var/lib/apt/lists/*\n",
            [],
        ),
        (
            "FROM a:1\nRUN --mount=type=cache,target=/var/lib/apt,sharing=locked "
            "apt-get install -y --no-install-recommends curl\n",
            [],
        ),
        ("FROM a:1 AS build\nRUN apt-get install -y gcc\nFROM b:1\n", []),  # builder stage only
    ],
)
def test_apt_hygiene(text: str, expected: list[tuple[str, int]]) -> None:
    assert docker(text, "DS-DOCKER-006") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a:1\nRUN pip install -r requirements.txt\n", [("DS-DOCKER-007", 2)]),
        ("FROM a:1\nRUN python -m pip install .\n", [("DS-DOCKER-007", 2)]),
        ("FROM a:1\nRUN pip install --no-cache-dir .\n", []),
        ("FROM a:1\nENV PIP_NO_CACHE_DIR=1\nRUN pip install .\n", []),
        ("FROM a:1\nRUN --mount=type=cache,target=/root/.cache/pip pip install .\n", []),
        ("FROM a:1\nRUN uv pip install --system .\n", []),
        ("FROM a:1 AS build\nRUN pip install --prefix=/install .\nFROM a:1\n", []),
    ],
)
def test_pip_cache(text: str, expected: list[tuple[str, int]]) -> None:
    assert docker(text, "DS-DOCKER-007") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a:1\nCOPY . .\nRUN npm ci\n", [("DS-DOCKER-008", 2)]),
        ("FROM a:1\nCOPY ./ /app\nRUN go mod download\n", [("DS-DOCKER-008", 2)]),
        ('FROM a:1\nCOPY [".", "/app"]\nRUN bundle install\n', [("DS-DOCKER-008", 2)]),
        ("FROM a:1\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\n", []),
        ("FROM a:1\nCOPY --from=build . .\nRUN npm ci\n", []),
        ("FROM a:1\nCOPY . .\nRUN make\n", []),
        # the uv pattern: dependencies first, then the project itself after the source
        ("FROM a:1\nCOPY uv.lock ./\nRUN uv sync --no-install-project\nCOPY . .\nRUN uv sync\n", []),
        ("FROM a:1 AS deps\nCOPY package.json ./\nRUN npm ci\nFROM deps AS b\nCOPY . .\nRUN npm ci\n", []),
    ],
)
def test_copy_before_deps(text: str, expected: list[tuple[str, int]]) -> None:
    assert docker(text, "DS-DOCKER-008") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM python:3.13\nUSER 1\n", [("DS-DOCKER-009", 1)]),
        ("FROM python:3.13 AS b\nHEALTHCHECK NONE\nFROM b\n", []),
        ("FROM python:3.13\nHEALTHCHECK CMD curl -f http://localhost/\n", []),
        ("FROM golang:1.25 AS build\nFROM scratch\n", []),
        ("FROM golang:1.25 AS build\nFROM gcr.io/distroless/static-debian13:nonroot\n", []),
        ("FROM gcr.io/distroless/python3-debian13\n", [("DS-DOCKER-009", 1)]),
        ("FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled\n", []),
    ],
)
def test_no_healthcheck(text: str, expected: list[tuple[str, int]]) -> None:
    assert docker(text, "DS-DOCKER-009") == expected


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"Dockerfile": "FROM a:1\n"}, [("DS-DOCKER-010", None)]),
        ({"Dockerfile": "FROM a:1\n", ".dockerignore": ".git\n"}, []),
        ({"api/Dockerfile": "FROM a:1\n", "api/.dockerignore": ".git\n"}, []),
        ({"api/Dockerfile": "FROM a:1\n", ".dockerignore": ".git\n"}, []),  # context may be the root
        ({"api/Dockerfile": "FROM a:1\n", "web/.dockerignore": ".git\n"}, [("DS-DOCKER-010", None)]),
        ({"build/app.Dockerfile": "FROM a:1\n", "build/app.Dockerfile.dockerignore": "x\n"}, []),
    ],
)
def test_missing_dockerignore(files: dict[str, str], expected: list[tuple[str, None]]) -> None:
    assert hits("dockerfile", files, "DS-DOCKER-010") == expected


@pytest.mark.parametrize(
    ("path", "applies"),
    [
        ("Dockerfile", True),
        ("api/Dockerfile.prod", True),
        ("web.dockerfile", True),
        ("Containerfile", True),
        ("Dockerfile.j2", False),
        ("Dockerfile.dockerignore", False),
        ("docs/dockerfile.md", False),
    ],
)
def test_applies_to(path: str, applies: bool) -> None:
    assert dockerfile.applies_to(path) is applies
