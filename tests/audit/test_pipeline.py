"""The delivery rules (DS-PIPE-*) on each platform: exact findings, and the coverage and
duration summary behind them."""

from __future__ import annotations

from deploysmith.audit.ci.summary import PipelineSummary
from deploysmith.audit.engine import _Source, build
from tests.audit.helpers import run_family

GITLAB = """\
stages: [test, deploy]
unit:
  stage: test
  image: python:3.13-slim
  cache:
    paths: [.cache/pip]
  script:
    - pip install -r requirements.txt
    - pytest || true
scan:
  stage: test
  image: python:3.13-slim
  cache:
    paths: [.cache/pip]
  script:
    - pip install pip-audit
    - pip-audit
deploy-prod:
  stage: deploy
  needs: [unit]
  image: bitnami/kubectl:1.33
  environment: production
  script:
    - kubectl apply -f k8s/
    - kubectl rollout status deployment/web
"""

GITHUB = """\
name: ci
on: push
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    steps:
      - uses: actions/setup-node@820762786026740c76f36085b0efc47a31fe5020 # v7.0.0
      - run: npm ci
      - run: npm run build
  scan:
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    continue-on-error: true
    steps:
      - run: npm audit
  test:
    needs: build
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    steps:
      - uses: actions/setup-node@820762786026740c76f36085b0efc47a31fe5020 # v7.0.0
        with:
          cache: npm
      - run: npm ci
      - run: npm test
  deploy:
    needs: [test]
    if: always()
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    environment: production
    steps:
      - run: kubectl apply -k deploy/prod
      - run: kubectl rollout status deployment/web
      - if: failure()
        run: kubectl rollout undo deployment/web
"""

AZURE = """\
stages:
  - stage: CI
    jobs:
      - job: build
        steps:
          - task: Cache@2
            inputs:
              key: pip | requirements.txt
              path: .pip
          - script: pip install -r requirements.txt
          - script: pytest
          - script: trivy fs --exit-code 0 .
            continueOnError: true
  - stage: Staging
    jobs:
      - deployment: staging
        environment: staging
        strategy:
          runOnce:
            deploy:
              steps:
                - script: helm upgrade --install web chart -n staging
      - job: e2e
        dependsOn: staging
        steps:
          - script: npx playwright test
  - stage: Production
    jobs:
      - deployment: prod
        environment: production
        strategy:
          runOnce:
            deploy:
              steps:
                - script: helm upgrade --install web chart -n prod
                - script: curl --fail https://example.com/healthz
            on:
              failure:
                steps:
                  - script: helm rollback web -n prod
"""

JENKINS = """\
pipeline {
  agent { label 'linux' }
  options { timeout(time: 45, unit: 'MINUTES') }
  stages {
    stage('Build') { steps { sh './gradlew assemble' } }
    stage('Test') { steps { sh './gradlew test' } }
    stage('Scan') {
      steps {
        catchError(buildResult: 'SUCCESS', stageResult: 'FAILURE') {
          sh 'grype dir:.'
        }
      }
    }
    stage('Image') { steps { sh 'docker build -t app . && docker push app' } }
    stage('Deploy staging') { steps { sh 'kubectl apply -k deploy/staging' } }
    stage('Smoke staging') { steps { sh 'curl --fail https://staging.example.com/health' } }
    stage('Deploy production') {
      input { message 'Deploy?' }
      steps { sh 'kubectl apply -k deploy/prod' }
    }
    stage('Verify') { steps { sh 'kubectl rollout status deployment/app' } }
  }
  post {
    failure { sh 'kubectl rollout undo deployment/app' }
  }
}
"""

CIRCLECI = """\
version: 2.1
jobs:
  build:
    docker:
      - image: cimg/go:1.25
    steps:
      - checkout
      - run: go build ./...
      - run: go test ./...
      - run: govulncheck ./... || true
  deploy:
    docker:
      - image: cimg/base:2025.08
    steps:
      - run: ./deploy.sh staging
workflows:
  main:
    jobs:
      - build
      - deploy
"""


def findings(files: dict[str, str]) -> list[tuple[str, int | None, str]]:
    return [(f.rule, f.line, f.message) for f in run_family("pipeline", files, "audit")]


def summary(files: dict[str, str]) -> PipelineSummary:
    fs = build([_Source(path, text) for path, text in files.items()], frozenset(files), "audit")
    (only,) = fs.summaries
    return only


def statuses(files: dict[str, str]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(s.stage, s.status, s.jobs) for s in summary(files).coverage.stages]


_NO_STAGING = (
    "GitLab CI pipeline has no Deploy Staging stage: production is the first environment this pipeline "
    "deploys to; deploy to a pre-production environment first"
)
_ROLLBACK = (
    "has no automatic rollback: no step that runs on failure undoes the release (kubectl rollout undo, helm "
    "rollback, a revert of the GitOps commit), and the deploy is not atomic (helm --atomic, Argo Rollouts)"
)


def test_gitlab() -> None:
    assert [(rule, line) for rule, line, _ in findings({".gitlab-ci.yml": GITLAB})] == [
        ("DS-PIPE-001", None),
        ("DS-PIPE-001", None),
        ("DS-PIPE-001", None),
        ("DS-PIPE-002", 9),
        ("DS-PIPE-002", 18),
        ("DS-PIPE-003", 18),
        ("DS-PIPE-004", 18),
    ]
    found = findings({".gitlab-ci.yml": GITLAB})
    assert found[0][2] == _NO_STAGING
    assert [message for _, _, message in found[3:]] == [
        "Test does not block: in unit, `pytest || true` cannot fail",
        "Security Scan does not gate Deploy Prod: deploy-prod can start without scan passing; put the "
        "job in a "
        "later stage or list them in `needs:` (scan)",
        "production deploy deploy-prod starts without approval: add `when: manual` (and protect the "
        "environment) "
        "or configure deployment approvals on it",
        f"production deploy deploy-prod {_ROLLBACK}",
    ]
    assert statuses({".gitlab-ci.yml": GITLAB}) == [
        ("Build", "present", ("unit", "scan")),
        ("Test", "not blocking", ("unit",)),
        ("Security Scan", "not blocking", ("scan",)),
        ("Package", "missing", ()),
        ("Deploy Staging", "missing", ()),
        ("Integration Test", "missing", ()),
        ("Approval", "missing", ()),
        ("Deploy Prod", "present", ("deploy-prod",)),
        ("Verify", "present", ("deploy-prod",)),
    ]


def test_github() -> None:
    files = {".github/workflows/ci.yml": GITHUB}
    assert findings(files)[3:] == [
        (
            "DS-PIPE-005",
            11,
            "job build downloads its dependencies (`npm ci`) on every run without a cache; "
            "restore one with a setup action's `cache:` input or actions/cache",
        ),
        (
            "DS-PIPE-002",
            13,
            "Security Scan does not block: scan sets continue-on-error: true, so its failure "
            "does not stop the pipeline",
        ),
        (
            "DS-PIPE-002",
            29,
            "Deploy Prod runs whatever the gates say: deploy runs even when an earlier job "
            "failed (always()); deploy only on success",
        ),
        (
            "DS-PIPE-002",
            29,
            "Security Scan does not gate Deploy Prod: deploy can start without scan passing; "
            "add them to `needs:` (scan)",
        ),
    ]
    assert [(rule, line) for rule, line, _ in findings(files)[:3]] == [("DS-PIPE-001", None)] * 3
    # approvals on GitHub are DS-GHA-009 (environment), not DS-PIPE-003
    assert ("Approval", "present", ("deploy",)) in statuses(files)


def test_azure() -> None:
    files = {"azure-pipelines.yml": AZURE}
    assert findings(files) == [
        (
            "DS-PIPE-001",
            None,
            "Azure Pipelines pipeline has no Package stage: no job builds and pushes the image "
            "or artifact once, so what is deployed is not the exact artifact that was tested (build "
            "once, promote "
            "the same digest)",
        ),
        (
            "DS-PIPE-002",
            12,
            "Security Scan does not block: in CI.build, continueOnError on `trivy fs --exit-code 0 .`",
        ),
    ]
    assert statuses(files) == [
        ("Build", "present", ("CI.build",)),
        ("Test", "present", ("CI.build",)),
        ("Security Scan", "not blocking", ("CI.build",)),
        ("Package", "missing", ()),
        ("Deploy Staging", "present", ("Staging.staging",)),
        ("Integration Test", "present", ("Staging.e2e",)),
        ("Approval", "present", ("Production.prod",)),
        ("Deploy Prod", "present", ("Production.prod",)),
        ("Verify", "present", ("Production.prod",)),
    ]


def test_azure_plain_prod_job_needs_an_environment() -> None:
    text = "jobs:\n  - job: deploy_prod\n    steps:\n      - script: helm upgrade --atomic web chart\n"
    assert [(rule, line) for rule, line, _ in findings({"azure-pipelines.yml": text})] == [
        ("DS-PIPE-001", None),
        ("DS-PIPE-001", None),
        ("DS-PIPE-001", None),
        ("DS-PIPE-001", None),
        ("DS-PIPE-001", None),
        ("DS-PIPE-001", None),
        ("DS-PIPE-001", None),
        ("DS-PIPE-003", 2),
    ]


def test_jenkins() -> None:
    files = {"Jenkinsfile": JENKINS}
    assert findings(files) == [
        (
            "DS-PIPE-002",
            10,
            "Security Scan does not block: in Scan, catchError/returnStatus on `grype dir:.`",
        ),
    ]
    assert [(stage, status) for stage, status, _ in statuses(files)] == [
        ("Build", "present"),
        ("Test", "present"),
        ("Security Scan", "not blocking"),
        ("Package", "present"),
        ("Deploy Staging", "present"),
        ("Integration Test", "present"),
        ("Approval", "present"),
        ("Deploy Prod", "present"),
        ("Verify", "present"),
    ]


def test_jenkins_without_input_or_rollback() -> None:
    text = JENKINS.replace("      input { message 'Deploy?' }\n", "").replace(
        "  post {\n    failure { sh 'kubectl rollout undo deployment/app' }\n  }\n", ""
    )
    assert [(rule, line) for rule, line, _ in findings({"Jenkinsfile": text})] == [
        ("DS-PIPE-002", 10),
        ("DS-PIPE-003", 17),
        ("DS-PIPE-004", 17),
    ]


def test_circleci() -> None:
    files = {".circleci/config.yml": CIRCLECI}
    assert [(rule, line, message.split(":")[0][:60]) for rule, line, message in findings(files)] == [
        ("DS-PIPE-001", None, "CircleCI pipeline has no Deploy Prod stage"),
        ("DS-PIPE-001", None, "CircleCI pipeline has no Package stage"),
        ("DS-PIPE-005", 8, "job build downloads its dependencies (`go build ./...`) on e"),
        ("DS-PIPE-002", 10, "Security Scan does not block"),
        ("DS-PIPE-002", 20, "Build does not gate Deploy Staging"),
        ("DS-PIPE-002", 20, "Security Scan does not gate Deploy Staging"),
        ("DS-PIPE-002", 20, "Test does not gate Deploy Staging"),
    ]


def test_ci_only_pipeline_expects_no_delivery_stages() -> None:
    text = (
        "test:\n  image: python:3.13-slim\n  cache: {paths: [.pip]}\n  script: [pip install -e ., pytest]\n"
    )
    assert [message for _, _, message in findings({".gitlab-ci.yml": text})] == [
        "GitLab CI pipeline has no Security Scan stage: no job scans dependencies, secrets or the image "
        "(trivy, "
        "grype, npm audit, pip-audit, gitleaks, CodeQL, a SAST template)",
    ]
    assert [(stage, status) for stage, status, _ in statuses({".gitlab-ci.yml": text})][3:] == [
        ("Package", "not applicable"),
        ("Deploy Staging", "not applicable"),
        ("Integration Test", "not applicable"),
        ("Approval", "not applicable"),
        ("Deploy Prod", "not applicable"),
        ("Verify", "not applicable"),
    ]
    with_image = {".gitlab-ci.yml": text, "Dockerfile": "FROM python:3.13-slim\n"}
    assert [m.split(":")[0] for _, _, m in findings(with_image)] == [
        "GitLab CI pipeline has no Package stage",
        "GitLab CI pipeline has no Security Scan stage",
    ]


def test_duration_estimate_and_budget() -> None:
    fast = summary(
        {
            ".gitlab-ci.yml": "test:\n  image: node:22\n  cache: {paths: [.npm]}\n  script: [npm ci, npm "
                              "test]\n"
        }
    )
    # start 15 + image 10 + npm ci warm 20 + npm test 90 = 135 s warm; cold 20 + 30 + 90 + 90 = 230 s
    assert (fast.duration.commit_warm, fast.duration.commit_cold) == (135.0, 230.0)
    assert fast.duration.to_json() == {
        "cold_minutes": 3.8,
        "warm_minutes": 2.2,
        "commit_stage_cold_minutes": 3.8,
        "commit_stage_warm_minutes": 2.2,
        "commit_stage_critical_path": ["test"],
        "critical_path": ["test"],
        "stack": "node",
        "uncached_jobs": [],
    }
    slow = (
        "stages: [build, test]\nbuild:\n  stage: build\n  image: maven:3.9\n  script: [mvn -B package]\n"
        "test:\n  stage: test\n  image: maven:3.9\n  script: [mvn -B verify]\n"
    )
    assert [f for f in findings({".gitlab-ci.yml": slow}) if f[0] == "DS-PIPE-006"] == [
        (
            "DS-PIPE-006",
            None,
            # build: 15 + 10 + mvn package uncached (180 + 120) = 325 s;
            # test: 15 + 10 + 180 + 120 + 240 = 565 s
            "the commit stage takes an estimated 14.8 min warm (15.7 min cold), over the 10-minute "
            "budget for "
            "feedback on a change; critical path: build → test. Cache dependencies and image layers, run "
            "independent "
            "jobs in parallel, split slow test suites",
        )
    ]
