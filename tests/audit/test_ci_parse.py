"""The CI platform readers: each file becomes a Pipeline (jobs, order, steps with lines), and
a malformed file is a DS-META-002 finding, never a crash."""

from __future__ import annotations

import pytest

from deploysmith.audit.ci import build_pipelines, jenkins, platform_of
from deploysmith.audit.ci.model import Pipeline
from deploysmith.audit.engine import _Source, build
from tests.audit.helpers import hits


def pipelines(files: dict[str, str]) -> list[Pipeline]:
    fs = build([_Source(path, text) for path, text in files.items()], frozenset(files), "audit")
    return list(fs.pipelines)


def only(files: dict[str, str]) -> Pipeline:
    (pipeline,) = pipelines(files)
    return pipeline


@pytest.mark.parametrize(
    ("path", "platform"),
    [
        (".gitlab-ci.yml", "gitlab"),
        ("services/api/.gitlab-ci.yml", "gitlab"),
        ("ci/deploy.gitlab-ci.yml", "gitlab"),
        (".gitlab/ci/build.yml", "gitlab"),
        ("azure-pipelines.yml", "azure"),
        ("azure-pipelines-release.yaml", "azure"),
        ("Jenkinsfile", "jenkins"),
        ("ops/Jenkinsfile.deploy", "jenkins"),
        ("build.jenkinsfile", "jenkins"),
        (".circleci/config.yml", "circleci"),
        (".github/workflows/ci.yml", None),
        ("deploy/app.yaml", None),
        ("Jenkinsfile.md", "jenkins"),
    ],
)
def test_platform_of(path: str, platform: str | None) -> None:
    assert platform_of(path) == platform


# -- GitLab ----------------------------------------------------------------------------------------------

GITLAB = """\
stages: [build, test, deploy]
default:
  image: node:22-bookworm
  before_script:
    - npm ci
.deploy:
  image: bitnami/kubectl:1.33
  script:
    - kubectl apply -f k8s/
build:
  stage: build
  script:
    - npm run build
unit:
  stage: test
  script:
    - npm test
  allow_failure: true
lint:
  stage: test
  needs: [build]
  script: npm run lint
production:
  extends: .deploy
  stage: deploy
  environment:
    name: production
  when: manual
  timeout: 1h 30m
"""


def test_gitlab_jobs_order_and_scripts() -> None:
    pipeline = only({".gitlab-ci.yml": GITLAB})
    assert pipeline.platform == "gitlab"
    assert [(job.id, job.stage, job.needs) for job in pipeline.jobs] == [
        ("build", "build", ()),
        ("unit", "test", ("build",)),
        ("lint", "test", ("build",)),
        ("production", "deploy", ("unit", "lint")),
    ]
    unit = pipeline.jobs[1]
    assert [(step.name, step.script) for step in unit.steps] == [
        ("before_script", ((5, "npm ci"),)),
        ("script", ((17, "npm test"),)),
    ]
    assert unit.allow_failure and unit.images == ((3, "node:22-bookworm"),)
    production = pipeline.jobs[3]
    assert production.steps[-1].script == ((9, "kubectl apply -f k8s/"),)  # from .deploy
    assert production.images == ((7, "bitnami/kubectl:1.33"),)
    assert (production.environment, production.manual, production.timeout_minutes) == (
        "production",
        True,
        90.0,
    )


def test_gitlab_block_scripts_and_references() -> None:
    text = (
        ".setup:\n  script:\n    - echo setup\njob:\n  script:\n    - !reference [.setup, script]\n"
        "    - |\n      first\n      second\n"
    )
    (job,) = only({".gitlab-ci.yml": text}).jobs
    assert job.steps[0].script == ((3, "echo setup"), (8, "first"), (9, "second"))


def test_gitlab_local_includes_join_the_pipeline() -> None:
    files = {
        ".gitlab-ci.yml": "include:\n  - local: ci/deploy.yml\n  - project: acme/templates\n"
        "    file: /sast.yml\nbuild:\n  script: [make]\n",
        "ci/deploy.yml": "deploy:\n  stage: deploy\n  script: [./deploy.sh]\n",
    }
    pipeline = only(files)
    assert pipeline.files == (".gitlab-ci.yml", "ci/deploy.yml")
    assert [(job.id, job.path) for job in pipeline.jobs] == [
        ("build", ".gitlab-ci.yml"),
        ("deploy", "ci/deploy.yml"),
        ("sast (included)", ".gitlab-ci.yml"),
    ]
    assert [(r.kind, r.target, r.pinned) for r in pipeline.references] == [
        ("project include", "acme/templates:/sast.yml", False)
    ]


def test_gitlab_when_on_failure_and_rules_manual() -> None:
    text = (
        "rollback:\n  when: on_failure\n  script: [kubectl rollout undo deployment/web]\n"
        "release:\n  rules:\n    - if: $CI_COMMIT_TAG\n      when: manual\n  script: [./release.sh]\n"
    )
    rollback, release = only({".gitlab-ci.yml": text}).jobs
    assert (rollback.condition, rollback.manual) == ("failure", False)
    assert (release.condition, release.manual) == ("", True)


# -- Azure -------------------------------------------------------------------------------------------------

AZURE = """\
stages:
  - stage: Build
    jobs:
      - job: compile
        timeoutInMinutes: 15
        steps:
          - task: Cache@2
            inputs:
              key: npm | package-lock.json
              path: .npm
          - script: |
              npm ci
              npm run build
            displayName: Build
  - stage: Deploy
    jobs:
      - job: wait
        pool: server
        steps:
          - task: ManualValidation@1
      - deployment: prod
        dependsOn: wait
        environment: production
        strategy:
          runOnce:
            deploy:
              steps:
                - template: steps/deploy.yml
            on:
              failure:
                steps:
                  - bash: kubectl rollout undo deployment/web
"""


def test_azure_stages_jobs_templates_and_hooks() -> None:
    pipeline = only(
        {"azure-pipelines.yml": AZURE, "steps/deploy.yml": "steps:\n  - script: kubectl apply -f k8s\n"}
    )
    assert pipeline.files == ("azure-pipelines.yml", "steps/deploy.yml")
    assert [(job.id, job.needs) for job in pipeline.jobs] == [
        ("Build.compile", ()),
        ("Deploy.wait", ("Build.compile",)),
        ("Deploy.prod", ("Deploy.wait", "Build.compile")),
    ]
    compile_job, wait, prod = pipeline.jobs
    assert compile_job.cache and compile_job.timeout_minutes == 15.0
    assert compile_job.steps[1].script == ((12, "npm ci"), (13, "npm run build"))
    assert wait.agentless and [step.kind for step in wait.steps] == ["approval"]
    assert (prod.deployment_job, prod.environment) == (True, "production")
    assert [(step.script, step.condition, step.path) for step in prod.steps] == [
        (((2, "kubectl apply -f k8s"),), "", "steps/deploy.yml"),
        (((32, "kubectl rollout undo deployment/web"),), "failure", ""),
    ]


def test_azure_steps_only_file_is_one_job() -> None:
    pipeline = only(
        {"azure-pipelines.yml": "pool:\n  vmImage: ubuntu-24.04\nsteps:\n  - script: make test\n"}
    )
    assert [(job.id, job.steps[0].script) for job in pipeline.jobs] == [("job", ((4, "make test"),))]


def test_azure_remote_template_is_a_note_and_repository_a_reference() -> None:
    text = (
        "resources:\n  repositories:\n    - repository: templates\n      type: git\n      name: "
        "ops/templates\n"
        "stages:\n  - template: stages.yml@templates\n"
    )
    pipeline = only({"azure-pipelines.yml": text})
    assert pipeline.jobs == ()
    assert pipeline.notes == ("template stages.yml@templates is not read",)
    assert [(r.line, r.target, r.pinned) for r in pipeline.references] == [(3, "ops/templates", False)]


# -- CircleCI --------------------------------------------------------------------------------------

CIRCLE = """\
version: 2.1
orbs:
  node: circleci/node@7.1.0
commands:
  install:
    steps:
      - run: npm ci
jobs:
  test:
    docker:
      - image: cimg/node:22.18
    steps:
      - checkout
      - install
      - run:
          name: Unit tests
          command: npm test
      - run:
          command: ./notify-failure.sh
          when: on_fail
workflows:
  main:
    jobs:
      - test
      - hold:
          type: approval
          requires: [test]
      - node/deploy:
          name: deploy-prod
          requires: [hold]
"""


def test_circleci_workflow_jobs_commands_and_orbs() -> None:
    pipeline = only({".circleci/config.yml": CIRCLE})
    assert [(job.id, job.needs, job.manual) for job in pipeline.jobs] == [
        ("test", (), False),
        ("hold", ("test",), True),
        ("deploy-prod", ("hold",), False),
    ]
    test = pipeline.jobs[0]
    assert [(step.kind, step.ref, step.script, step.condition) for step in test.steps] == [
        ("action", "checkout", (), ""),
        ("script", "", ((7, "npm ci"),), ""),
        ("script", "", ((17, "npm test"),), ""),
        ("script", "", ((19, "./notify-failure.sh"),), "failure"),
    ]
    assert test.images == ((11, "cimg/node:22.18"),)
    assert pipeline.jobs[2].steps[0].ref == "node/deploy"
    assert [(r.target, r.pinned) for r in pipeline.references] == [("circleci/node@7.1.0", True)]


# -- Jenkins ---------------------------------------------------------------------------------------

JENKINSFILE = """\
// Declarative pipeline
@Library('shared@1.2.0') _
pipeline {
  agent { docker { image 'maven:3.9-eclipse-temurin-21' } }
  options { timeout(time: 1, unit: 'HOURS') }
  environment {
    TOKEN = credentials('api-token')
  }
  stages {
    stage('Build') {
      steps {
        sh './mvnw -B package'  /* inline comment */
      }
    }
    stage('Checks') {
      parallel {
        stage('Unit') { steps { sh "./mvnw test -Dbranch=${env.BRANCH_NAME}" } }
        stage('Scan') {
          steps {
            catchError(buildResult: 'SUCCESS') {
              sh 'trivy fs .'
            }
          }
        }
      }
    }
    stage('Deploy prod') {
      input { message 'Ship it?' }
      steps {
        sh '''
          helm upgrade --install app chart
          kubectl rollout status deployment/app
        '''
      }
    }
  }
  post {
    failure { sh 'helm rollback app' }
  }
}
"""


def test_jenkins_declarative_stages() -> None:
    pipeline = only({"Jenkinsfile": JENKINSFILE})
    assert [(job.id, job.needs, job.manual, job.timeout_minutes) for job in pipeline.jobs] == [
        ("Build", (), False, 60.0),
        ("Checks / Unit", ("Build",), False, 60.0),
        ("Checks / Scan", ("Build",), False, 60.0),
        ("Deploy prod", ("Checks / Unit", "Checks / Scan"), True, 60.0),
        ("post failure", ("Build", "Checks / Unit", "Checks / Scan", "Deploy prod"), False, None),
    ]
    build_job, unit, scan, deploy, post = pipeline.jobs
    assert build_job.images == ((4, "maven:3.9-eclipse-temurin-21"),)
    assert build_job.steps[0].script == ((12, "./mvnw -B package"),)
    assert unit.steps[0].script == ((17, "./mvnw test -Dbranch=${env.BRANCH_NAME}"),)
    assert [(step.ref, step.allow_failure) for step in scan.steps] == [("", True)]
    assert [line for step in deploy.steps for line, _ in step.script] == [31, 32, 33]
    assert (post.condition, post.steps[0].script) == ("failure", ((38, "helm rollback app"),))
    assert pipeline.secret_names == frozenset({"TOKEN", "TOKEN_PSW"})
    assert [(r.target, r.pinned) for r in pipeline.references] == [("shared@1.2.0", True)]


def test_jenkins_scripted_pipeline() -> None:
    text = "node('linux') {\n  stage('Build') { sh 'make' }\n  stage('Test') {\n    sh 'make test'\n  }\n}\n"
    pipeline = only({"Jenkinsfile": text})
    assert [(job.id, job.needs, job.line) for job in pipeline.jobs] == [
        ("Build", (), 2),
        ("Test", ("Build",), 3),
    ]


def test_jenkins_tokenizer_strings_and_interpolation() -> None:
    tokens = jenkins.tokenize("sh \"a ${b.c} $d \\${e}\"\nx = 'it''s' + '''multi\nline'''\ny = /re${f}/\n")
    strings = [
        (t.quote, t.value, [i.expression for i in t.interpolations]) for t in tokens if t.kind == "string"
    ]
    assert strings == [
        ('"', "a ${b.c} $d \\${e}", ["b.c", "d"]),
        ("'", "it", []),
        ("'", "s", []),
        ("'''", "multi\nline", []),
        ("/", "re${f}", ["f"]),
    ]


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("pipeline {\n  stages {\n", 2, "unbalanced {: a block is not closed"),
        ("pipeline {\n}\n}\n", 3, "unbalanced }"),
        ("sh 'unterminated\n", 1, "unterminated ' string"),
        ("/* never closed\n", 1, "unterminated /* comment"),
        ('sh("a"\n', 1, "unbalanced ( or [: not closed"),
        ('sh "${oops"\n', 1, "unterminated ${ in a string"),
    ],
)
def test_jenkins_malformed_is_a_finding(text: str, line: int, problem: str) -> None:
    with pytest.raises(jenkins.JenkinsError) as raised:
        jenkins.parse(text)
    assert (raised.value.line, raised.value.problem) == (line, problem)
    assert hits("meta", {"Jenkinsfile": text}) == [("DS-META-002", line)]


# -- malformed YAML of every platform --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        (".gitlab-ci.yml", "build:\n  script: [make\n", [("DS-META-002", 3)]),
        (".gitlab-ci.yml", "- a\n- list\n", [("DS-META-002", None)]),
        ("azure-pipelines.yml", "steps:\n  - script: 'x\n", [("DS-META-002", 3)]),
        ("azure-pipelines.yml", "just a string\n", [("DS-META-002", None)]),
        (".circleci/config.yml", "version: 2.1\nfoo: bar\n", [("DS-META-002", None)]),
        (".circleci/config.yml", "jobs: {a: [\n", [("DS-META-002", 2)]),
    ],
)
def test_malformed_ci_yaml_is_a_finding(path: str, text: str, expected: list[tuple[str, int | None]]) -> None:
    assert hits("meta", {path: text}) == expected


def test_odd_shapes_do_not_crash() -> None:
    odd = {
        ".gitlab-ci.yml": "stages: 3\nbuild:\n  script: {a: 1}\n  needs: {x: 1}\n  extends: [.nope]\n"
        "  environment: {name: [1]}\n  services: [{name: 5}]\n  timeout: forever\n",
        "azure-pipelines.yml": "stages:\n  - stage: A\n    jobs: nope\n  - 5\n  - stage: B\n    "
                               "dependsOn: [A]\n"
        "    jobs:\n      - job: x\n        steps: [1, {script: 2}]\n",
        ".circleci/config.yml": "jobs:\n  a: 5\nworkflows:\n  w:\n    jobs: [a, {b: 5}, {c: {requires: "
                                "x}}]\n",
        "Jenkinsfile": "pipeline { stages { stage { steps { sh } } } }\n",
    }
    found = {p.platform: len(p.jobs) for p in pipelines(odd)}
    assert found == {"gitlab": 1, "azure": 1, "circleci": 3, "jenkins": 1}


def test_build_pipelines_groups_by_project_folder() -> None:
    ci_files = {
        "a/.gitlab-ci.yml": ("gitlab", [build_yaml("x:\n  script: [make]\n")]),
        "b/.gitlab-ci.yml": ("gitlab", [build_yaml("y:\n  script: [make]\n")]),
    }
    made, problems = build_pipelines((), ci_files, {}, frozenset(ci_files))  # type: ignore[arg-type]
    assert [(p.root, p.path, [j.id for j in p.jobs]) for p in made] == [
        ("a", "a/.gitlab-ci.yml", ["x"]),
        ("b", "b/.gitlab-ci.yml", ["y"]),
    ]
    assert problems == []


def build_yaml(text: str) -> object:
    from deploysmith.audit.parse import load_yaml

    return load_yaml(text)[0]
