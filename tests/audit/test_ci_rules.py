"""CI platform rules (DS-CI-*): exact findings per rule and platform."""

from __future__ import annotations

import pytest

from tests.audit.helpers import run_family


def ci(files: dict[str, str], rule: str | None = None) -> list[tuple[str, str, int | None]]:
    return [
        (f.rule, f.path, f.line) for f in run_family("ci", files, "audit") if rule is None or f.rule == rule
    ]


def messages(files: dict[str, str], rule: str) -> list[str]:
    return [f.message for f in run_family("ci", files, "audit") if f.rule == rule]


# -- DS-CI-001 ------------------------------------------------------------------------------------------


def test_jenkins_timeout_on_pipeline_or_every_stage() -> None:
    bare = (
        "pipeline {\n  agent any\n  stages {\n    stage('A') { steps { sh 'a' } }\n    stage('B') {\n"
        "      options { timeout(time: 5, unit: 'MINUTES') }\n      steps { sh 'b' }\n    }\n  }\n}\n"
    )
    assert ci({"Jenkinsfile": bare}, "DS-CI-001") == [("DS-CI-001", "Jenkinsfile", 1)]
    assert messages({"Jenkinsfile": bare}, "DS-CI-001")[0].startswith("stage(s) A can run forever")
    whole = bare.replace("  agent any\n", "  agent any\n  options { timeout(time: 1, unit: 'HOURS') }\n")
    assert ci({"Jenkinsfile": whole}, "DS-CI-001") == []


def test_azure_timeout_zero() -> None:
    text = (
        "jobs:\n  - job: a\n    timeoutInMinutes: 0\n    steps: [{script: make}]\n  - job: b\n    "
        "steps: [{script: make}]\n"
    )
    assert ci({"azure-pipelines.yml": text}, "DS-CI-001") == [("DS-CI-001", "azure-pipelines.yml", 2)]


def test_gitlab_and_circleci_defaults_are_bounded() -> None:
    assert ci({".gitlab-ci.yml": "a:\n  script: [make]\n"}, "DS-CI-001") == []
    circle = "version: 2.1\njobs:\n  a:\n    docker: [{image: cimg/base:2025.08}]\n    steps: [checkout]\n"
    assert ci({".circleci/config.yml": circle}, "DS-CI-001") == []


# -- DS-CI-002 ------------------------------------------------------------------------------------------


def test_images_on_every_platform() -> None:
    files = {
        ".gitlab-ci.yml": "default:\n  image: node\njob:\n  services: [postgres:latest, {name: redis:8}]\n"
        "  script: [make]\nother:\n  image: {name: 'alpine:3.22'}\n  script: [make]\n",
        "azure-pipelines.yml": "resources:\n  containers:\n    - container: db\n      image: mysql\n"
        "jobs:\n  - job: a\n    container: ubuntu:latest\n    steps: [{script: make}]\n",
        ".circleci/config.yml": "version: 2.1\nexecutors:\n  py:\n    docker:\n      - image: "
                                "cimg/python:latest\n"
        "jobs:\n  a:\n    executor: py\n    steps: [checkout]\n  b:\n    docker:\n      - image: "
        "cimg/go@sha256:abc\n"
        "    steps: [checkout]\n",
        "Jenkinsfile": "pipeline {\n  agent { docker { image 'maven' } }\n  stages { stage('a') { steps "
                       "{ sh 'mvn' } } }\n}\n",
        ".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    container: "
                                    "node:latest\n"
        "    services:\n      db:\n        image: postgres:18\n    steps:\n      - run: make\n",
    }
    assert ci(files, "DS-CI-002") == [
        ("DS-CI-002", ".circleci/config.yml", 5),
        ("DS-CI-002", ".github/workflows/ci.yml", 5),
        ("DS-CI-002", ".gitlab-ci.yml", 2),
        ("DS-CI-002", ".gitlab-ci.yml", 4),
        ("DS-CI-002", "Jenkinsfile", 2),
        ("DS-CI-002", "azure-pipelines.yml", 4),
        ("DS-CI-002", "azure-pipelines.yml", 7),
    ]
    assert messages({".gitlab-ci.yml": "a:\n  image: node\n  script: [x]\n"}, "DS-CI-002") == [
        "CI image `node` has no tag, so it means `latest` and changes under the pipeline; pin a version tag "
        "(and ideally a digest: image@sha256:…)"
    ]


def test_variable_images_are_not_judged() -> None:
    assert ci({".gitlab-ci.yml": "a:\n  image: $BUILD_IMAGE\n  script: [x]\n"}, "DS-CI-002") == []


# -- DS-CI-003 -------------------------------------------------------------------------------------

SHA = "1f0c3e4d5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d"


@pytest.mark.parametrize(
    ("include", "flagged"),
    [
        ("- project: a/b\n    file: /x.yml", True),
        ("- project: a/b\n    ref: main\n    file: /x.yml", True),
        (f"- project: a/b\n    ref: {SHA}\n    file: /x.yml", False),
        ("- remote: https://example.com/ci.yml", True),
        ("- remote: https://example.com/ci.yml\n    integrity: sha256-abc", False),
        ("- https://example.com/ci.yml", True),
        ("- component: gitlab.com/acme/sast/sast@~latest", True),
        ("- component: gitlab.com/acme/sast/sast@1.2", True),
        ("- component: gitlab.com/acme/sast/sast@1.2.3", False),
        ("- template: Jobs/SAST.gitlab-ci.yml", False),
        ("- local: ci/x.yml", False),
    ],
)
def test_gitlab_includes(include: str, flagged: bool) -> None:
    text = f"include:\n  {include}\njob:\n  script: [make]\n"
    assert ci({".gitlab-ci.yml": text}, "DS-CI-003") == (
        [("DS-CI-003", ".gitlab-ci.yml", 2)] if flagged else []
    )


@pytest.mark.parametrize(
    ("orb", "flagged"),
    [
        ("circleci/node@7.1.0", False),
        ("circleci/node@7", True),
        ("acme/x@volatile", True),
        ("acme/x@dev:alpha", True),
        ("acme/x@1.2", True),
    ],
)
def test_circleci_orbs(orb: str, flagged: bool) -> None:
    text = (
        f"version: 2.1\norbs:\n  x: {orb}\njobs:\n  a:\n    docker: [{{image: cimg/base:2025.08}}]\n"
        "    steps: [checkout]\n"
    )
    assert ci({".circleci/config.yml": text}, "DS-CI-003") == (
        [("DS-CI-003", ".circleci/config.yml", 3)] if flagged else []
    )


@pytest.mark.parametrize(
    ("library", "flagged"),
    [
        ("@Library('lib') _", True),
        ("@Library('lib@master') _", True),
        ("@Library('lib@2.0.1') _", False),
        ("@Library(['a@1.0', 'b']) _", True),
        ("library 'lib@main'", True),
    ],
)
def test_jenkins_libraries(library: str, flagged: bool) -> None:
    text = f"{library}\npipeline {{\n  agent any\n  stages {{ stage('a') {{ steps {{ sh 'x' }} }} }}\n}}\n"
    assert ci({"Jenkinsfile": text}, "DS-CI-003") == ([("DS-CI-003", "Jenkinsfile", 1)] if flagged else [])


def test_azure_template_repository() -> None:
    text = (
        "resources:\n  repositories:\n    - repository: t\n      type: git\n      name: ops/t\n"
        "    - repository: u\n      type: git\n      name: ops/u\n      ref: refs/tags/v1.4.0\n"
        "steps:\n  - script: make\n"
    )
    assert ci({"azure-pipelines.yml": text}, "DS-CI-003") == [("DS-CI-003", "azure-pipelines.yml", 3)]


# -- DS-CI-004 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "flagged"),
    [
        ('echo "$CI_COMMIT_MESSAGE"', False),
        ("echo $CI_COMMIT_MESSAGE", True),
        ("echo '$CI_COMMIT_MESSAGE'", False),
        ('eval "echo $CI_MERGE_REQUEST_TITLE"', True),
        ('sh -c "notify ${CI_COMMIT_TITLE}"', True),
        ("ssh host \"deploy '$CI_COMMIT_REF_NAME'\"", True),
        ('printf "%s" "$CI_COMMIT_MESSAGE" | ssh host notify', False),
        ('git tag "$CI_COMMIT_SHA"', False),
    ],
)
def test_gitlab_injection(line: str, flagged: bool) -> None:
    text = f"job:\n  script:\n    - {line!r}\n".replace("\\'", "''")
    assert ci({".gitlab-ci.yml": text}, "DS-CI-004") == (
        [("DS-CI-004", ".gitlab-ci.yml", 3)] if flagged else []
    )


def test_azure_macros_in_scripts_and_task_inputs() -> None:
    text = (
        "steps:\n  - script: echo $(Build.SourceVersionMessage) $(Build.BuildId)\n"
        "  - task: Bash@3\n    inputs:\n      targetType: inline\n      script: echo "
        "$(System.PullRequest.SourceBranch)\n"
        '  - script: echo "$MSG"\n    env:\n      MSG: $(Build.SourceVersionMessage)\n'
    )
    assert ci({"azure-pipelines.yml": text}, "DS-CI-004") == [
        ("DS-CI-004", "azure-pipelines.yml", 2),
        ("DS-CI-004", "azure-pipelines.yml", 3),
    ]


def test_circleci_pipeline_values() -> None:
    text = (
        "version: 2.1\njobs:\n  a:\n    docker: [{image: cimg/base:2025.08}]\n    steps:\n"
        "      - run: echo << pipeline.git.branch >> << pipeline.number >>\n"
        "      - run:\n          command: |\n            make\n            echo << "
        "pipeline.trigger_parameters.github_app.commit_message >>\n"
    )
    assert ci({".circleci/config.yml": text}, "DS-CI-004") == [
        ("DS-CI-004", ".circleci/config.yml", 6),
        ("DS-CI-004", ".circleci/config.yml", 10),
    ]


def test_jenkins_groovy_interpolation() -> None:
    text = (
        "pipeline {\n  agent any\n  stages {\n    stage('a') {\n      steps {\n"
        '        sh "echo ${env.CHANGE_TITLE} ${BUILD_NUMBER}"\n'
        "        sh 'echo \"$CHANGE_TITLE\"'\n"
        '        sh """\n          deploy --version ${params.VERSION}\n        """\n'
        '        sh "echo \\${CHANGE_BRANCH}"\n'
        "      }\n    }\n  }\n}\n"
    )
    assert ci({"Jenkinsfile": text}, "DS-CI-004") == [
        ("DS-CI-004", "Jenkinsfile", 6),
        ("DS-CI-004", "Jenkinsfile", 9),
    ]


# -- DS-CI-005 -------------------------------------------------------------------------------------


def test_gitlab_secret_echo_trace_and_debug() -> None:
    text = (
        "variables:\n  CI_DEBUG_TRACE: 'true'\ndeploy:\n  variables:\n    CI_DEBUG_SERVICES: true\n  "
        "script:\n"
        "    - echo $DEPLOY_TOKEN\n    - echo $DEPLOY_TOKEN | docker login --password-stdin\n"
        "    - set -x\n    - echo $IMAGE_NAME\n"
    )
    assert ci({".gitlab-ci.yml": text}, "DS-CI-005") == [
        ("DS-CI-005", ".gitlab-ci.yml", 2),
        ("DS-CI-005", ".gitlab-ci.yml", 5),
        ("DS-CI-005", ".gitlab-ci.yml", 7),
        ("DS-CI-005", ".gitlab-ci.yml", 9),
    ]


def test_azure_setvariable_without_issecret() -> None:
    text = (
        'steps:\n  - script: echo "##vso[task.setvariable variable=tok]$(API_TOKEN)"\n'
        '  - script: echo "##vso[task.setvariable variable=tok;issecret=true]$(API_TOKEN)"\n'
    )
    assert ci({"azure-pipelines.yml": text}, "DS-CI-005") == [("DS-CI-005", "azure-pipelines.yml", 2)]


def test_jenkins_credentials_interpolated() -> None:
    text = (
        "pipeline {\n  agent any\n  stages {\n    stage('a') {\n      steps {\n"
        "        withCredentials([string(credentialsId: 'x', variable: 'SLACK')]) {\n"
        '          sh "curl -d ${SLACK} https://hooks.example.com"\n'
        "          sh 'curl -d \"$SLACK\" https://hooks.example.com'\n"
        "        }\n      }\n    }\n  }\n}\n"
    )
    assert ci({"Jenkinsfile": text}, "DS-CI-005") == [("DS-CI-005", "Jenkinsfile", 7)]


# -- DS-CI-006 -------------------------------------------------------------------------------------


def test_privilege() -> None:
    files = {
        ".gitlab-ci.yml": "a:\n  script:\n    - docker run --privileged x:1\n    - docker run -v "
                          "/var/run/docker.sock:/s x:1\n",
        "azure-pipelines.yml": "steps:\n  - checkout: self\n    persistCredentials: true\n",
        "Jenkinsfile": "pipeline {\n  agent { label 'master' }\n  stages { stage('a') { agent { docker { "
                       "image 'x:1'\n"
        "    args '--privileged' } } steps { sh 'x' } } }\n}\n",
    }
    assert ci(files, "DS-CI-006") == [
        ("DS-CI-006", ".gitlab-ci.yml", 3),
        ("DS-CI-006", ".gitlab-ci.yml", 4),
        ("DS-CI-006", "Jenkinsfile", 2),
        ("DS-CI-006", "Jenkinsfile", 4),
        ("DS-CI-006", "azure-pipelines.yml", 2),
    ]


def test_clean_pipelines_have_no_ci_findings() -> None:
    files = {
        ".gitlab-ci.yml": "test:\n  image: python:3.13-slim\n  script: ['pytest']\n",
        "Jenkinsfile": "pipeline {\n  agent { label 'linux' }\n  options { timeout(time: 9, unit: "
                       "'MINUTES') }\n"
        "  stages { stage('t') { steps { sh 'make test' } } }\n}\n",
    }
    assert ci(files) == []
