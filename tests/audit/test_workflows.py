from __future__ import annotations

import pytest

from deploysmith.audit import workflows
from deploysmith.audit.workflows import untrusted_references
from tests.audit.helpers import hits, run_family

SHA = "3d3c42e5aac5ba805825da76410c181273ba90b1"
HEAD = "on: push\npermissions:\n  contents: read\njobs:\n"


def job(body: str, name: str = "test", extra: str = "") -> str:
    return f"  {name}:\n    runs-on: ubuntu-latest\n    timeout-minutes: 5{extra}\n    steps:\n{body}"


def gha(text: str, rule: str) -> list[tuple[str, int | None]]:
    return hits("workflows", {".github/workflows/ci.yml": text}, rule)


def test_clean_workflow() -> None:
    text = HEAD + job(f"      - uses: actions/checkout@{SHA} # v7.0.1\n      - run: make test\n")
    assert run_family("workflows", {".github/workflows/ci.yml": text}) == ()


def test_missing_permissions() -> None:
    text = (
        "on: push\njobs:\n"
        + job("      - run: make\n")
        + job("      - run: make\n", "b", "\n    permissions: {}")
    )
    findings = [
        f for f in run_family("workflows", {".github/workflows/ci.yml": text}) if f.rule == "DS-GHA-001"
    ]
    assert [(f.line, f.message.split(" set none")[0]) for f in findings] == [
        (2, "no top-level permissions and job(s) test")
    ]
    every_job = "on: push\njobs:\n" + job("      - run: make\n", extra="\n    permissions: {contents: read}")
    assert gha(every_job, "DS-GHA-001") == []


def test_write_all() -> None:
    text = "on: push\npermissions: write-all\njobs:\n" + job(
        "      - run: make\n", extra="\n    permissions: write-all"
    )
    assert gha(text, "DS-GHA-002") == [("DS-GHA-002", 2), ("DS-GHA-002", 7)]


@pytest.mark.parametrize(
    ("uses", "rule", "flagged"),
    [
        ("docker/login-action@v4", "DS-GHA-003", True),
        ("docker/login-action@main", "DS-GHA-003", True),
        (f"docker/login-action@{SHA}", "DS-GHA-003", False),
        ("acme/workflows/.github/workflows/deploy.yml@v1", "DS-GHA-003", True),
        ("docker://alpine:3.22", "DS-GHA-003", True),
        ("docker://alpine@sha256:0123", "DS-GHA-003", False),
        ("./.github/actions/setup", "DS-GHA-003", False),
        ("actions/checkout@v7", "DS-GHA-003", False),
        ("actions/checkout@v7", "DS-GHA-004", True),
        ("github/codeql-action/init@v4", "DS-GHA-004", True),
        (f"actions/checkout@{SHA}", "DS-GHA-004", False),
        ("docker/login-action@v4", "DS-GHA-004", False),
    ],
)
def test_pinning(uses: str, rule: str, flagged: bool) -> None:
    text = HEAD + job(f"      - uses: {uses}\n")
    assert gha(text, rule) == ([(rule, 9)] if flagged else [])


def test_reusable_workflow_job_is_checked_for_pinning() -> None:
    text = HEAD + "  deploy:\n    uses: acme/ci/.github/workflows/deploy.yml@main\n"
    assert gha(text, "DS-GHA-003") == [("DS-GHA-003", 6)]
    assert gha(text, "DS-GHA-007") == []  # a caller job cannot set timeout-minutes


@pytest.mark.parametrize(
    ("expression", "untrusted"),
    [
        ("github.event.pull_request.title", True),
        ("github.event.issue.body", True),
        ("github.event.comment.body", True),
        ("github.event.head_commit.message", True),
        ("github.event.pull_request.head.ref", True),
        ("github.event.commits[0].message", True),
        ("github.event['pull_request']['title']", True),
        ("github.head_ref", True),
        ("github.event.workflow_run.head_branch", True),
        ("github.event.pull_request.number", False),
        ("github.event.pull_request.head.sha", False),
        ("github.event.repository.full_name", False),
        ("github.event.inputs.version", False),
        ("github.ref_name", False),
        ("github.sha", False),
        ("inputs.version", False),
        ("format('{0}', github.event.issue.title)", True),
    ],
)
def test_untrusted_references(expression: str, untrusted: bool) -> None:
    assert bool(untrusted_references(f"echo ${{{{ {expression} }}}}")) is untrusted


def test_script_injection_points_at_the_line_inside_the_block() -> None:
    body = (
        "      - name: greet\n        run: |\n          echo start\n"
        '          echo "${{ github.event.pull_request.title }}"\n'
        "      - run: echo ${{ github.head_ref }}\n"
        "      - uses: actions/github-script@v7\n        with:\n          script: |\n"
        "            const t = '${{ github.event.issue.title }}'\n"
        '      - env:\n          TITLE: ${{ github.event.pull_request.title }}\n        run: echo "$TITLE"\n'
    )
    assert gha(HEAD + job(body), "DS-GHA-005") == [("DS-GHA-005", 12), ("DS-GHA-005", 13), ("DS-GHA-005", 17)]


def test_pull_request_target_checkout_of_the_head() -> None:
    checkout = (
        f"      - uses: actions/checkout@{SHA}\n        with:\n"
        "          ref: ${{ github.event.pull_request.head.sha }}\n"
    )
    target = "on: pull_request_target\npermissions: {contents: read}\njobs:\n"
    assert gha(target + job(checkout), "DS-GHA-006") == [("DS-GHA-006", 8)]
    assert gha(HEAD.replace("on: push", "on: pull_request") + job(checkout), "DS-GHA-006") == []
    base_only = f"      - uses: actions/checkout@{SHA}\n"
    assert gha(target + job(base_only), "DS-GHA-006") == []
    gh_cli = "      - run: gh pr checkout ${{ github.event.pull_request.number }}\n"
    assert gha(target + job(gh_cli), "DS-GHA-006") == [("DS-GHA-006", 8)]


def test_job_timeout() -> None:
    text = HEAD + "  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n"
    assert gha(text, "DS-GHA-007") == [("DS-GHA-007", 5)]


def test_secret_in_log() -> None:
    body = (
        "      - run: |\n          echo ${{ secrets.TOKEN }} | base64\n"
        "      - env:\n          TOKEN: ${{ secrets.TOKEN }}\n        run: |\n"
        '          set -euxo pipefail\n          echo "$TOKEN"\n'
        '          echo "$TOKEN" | docker login ghcr.io -u x --password-stdin\n'
        '      - shell: bash -x {0}\n        run: deploy --token "${{ secrets.DEPLOY }}"\n'
        "      - run: |\n          set -x\n          make build\n"
    )
    assert gha(HEAD + job(body), "DS-GHA-008") == [
        ("DS-GHA-008", 10),
        ("DS-GHA-008", 14),
        ("DS-GHA-008", 15),
        ("DS-GHA-008", 17),
    ]


def test_secret_from_job_env_counts() -> None:
    body = "      - run: |\n          set -x\n          ./deploy\n"
    text = HEAD + job(body, extra="\n    env:\n      KUBECONFIG_DATA: ${{ secrets.KUBECONFIG }}")
    assert gha(text, "DS-GHA-008") == [("DS-GHA-008", 12)]


@pytest.mark.parametrize(
    ("name", "extra", "body", "flagged"),
    [
        ("deploy-production", "", "      - run: ./deploy.sh\n", True),
        ("release_prod", "", "      - run: ./deploy.sh\n", True),
        ("deploy", "", "      - run: kubectl -n production apply -k deploy\n", True),
        ("deploy", "", "      - run: kubectl -n staging apply -k deploy\n", False),
        ("deploy-production", "\n    environment: production", "      - run: ./deploy.sh\n", False),
        ("build-prod-image", "", "      - run: make\n", False),
        ("productivity-report", "", "      - run: make\n", False),
    ],
)
def test_deploy_without_environment(name: str, extra: str, body: str, flagged: bool) -> None:
    text = HEAD + job(body, name, extra)
    assert gha(text, "DS-GHA-009") == ([("DS-GHA-009", 5)] if flagged else [])


@pytest.mark.parametrize(
    ("path", "applies"),
    [
        (".github/workflows/ci.yml", True),
        (".github/workflows/ci.yaml", True),
        (".github/workflows/sub/ci.yml", False),
        (".github/dependabot.yml", False),
        ("ci.yml", False),
    ],
)
def test_applies_to(path: str, applies: bool) -> None:
    assert workflows.applies_to(path) is applies
