"""Backups and disaster recovery for every stateful backing service the stack uses.

- A managed database declared by the IaC (RDS, Cloud SQL, Azure Database) is backed up by
  the provider: daily snapshots, transaction logs for point-in-time recovery, retention
  per environment (see `render.iac`). Nothing runs in the cluster for it.
- Every other stateful service, on the Kubernetes target, gets a CronJob in
  `deploy/backup/` (applied to production) that dumps it with the engine's own tool
  (pg_dump, mysqldump, mariadb-dump, mongodump, `redis-cli --rdb`) into an emptyDir, then
  uploads the dump to an S3-compatible bucket. The schedule comes from the RPO.
- `deploy/backup/restore-test.sh` restores the newest dump of each service into a throwaway
  container and checks it (tables, collections or keys exist, the dump is younger than the
  RPO allows); CI runs it every week. `docs/deploy/DISASTER-RECOVERY.md` gives the targets,
  the retention and encryption, and the restore procedure per engine.

Encryption: at rest by the bucket — every upload asks for SSE-KMS (`--sse aws:kms`) and the
documented bucket policy refuses uploads without it; in transit by TLS (the bucket's HTTPS
endpoint). Dumps are not encrypted client-side: whoever can read the bucket can read them,
so the bucket grants read only to the restore role.

Credentials: the dump reads its connection string from the Secret `<app>-backup` (a
read-only backup user, not the app's own credentials); the upload uses the same Secret's
AWS keys, or the pod's workload identity when the keys are absent.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from deploysmith.model import Plan, RenderedFile
from deploysmith.plan.infra import (
    DUMP_RETENTION_DAYS,
    DUMP_TOOLS,
    backup_interval_minutes,
    backup_schedule,
    dumped_services,
    managed_database,
    managed_service,
    stateful_services,
    uncovered_services,
)
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import DOCS_DIR, header
from deploysmith.render.compose import BACKING
from deploysmith.render.yamlout import comment, dump

DIR = "deploy/backup"
SCRIPT = f"{DIR}/restore-test.sh"
DOC = f"{DOCS_DIR}/DISASTER-RECOVERY.md"
GITHUB_WORKFLOW = ".github/workflows/restore-test.yml"
# Outside the names the audit reads as delivery pipelines (azure-pipelines*.yml): this one
# builds and deploys nothing, so the delivery rules (a build stage, a gated deploy) do not apply.
AZURE_PIPELINE = f"{DIR}/azure-restore-test.yml"
JENKINSFILE = f"{DIR}/restore-test.groovy"  # a Pipeline job's script path; not a delivery Jenkinsfile
# The AWS CLI's official image; tags follow CLI releases (checked AWS_CLI_CHECKED).
AWS_CLI_IMAGE = "amazon/aws-cli:2.33.19"
AWS_CLI_CHECKED = "2026-11-22"
UID = 65532  # any non-root uid: the dump tools and the AWS CLI need no user of their own
RESTORE_TEST_CRON = "17 6 * * 1"  # Mondays 06:17 UTC: a failed restore is seen at the start of a week
COMPONENT = "backup"
RUNNER = "ubuntu-24.04"


@dataclass(frozen=True)
class Engine:
    service: str
    secret_keys: tuple[str, ...]  # keys of the <app>-backup Secret the dump reads
    file: str  # the dump's file name in the emptyDir and the suffix of its object key
    dump: tuple[str, ...]  # shell lines writing /backup/<file>
    restore: tuple[str, ...]  # inside the scratch container, the dump at /tmp/<file>
    check: str  # prints a count that must be above zero
    what: str  # what the count counts
    scratch_env: tuple[tuple[str, str], ...]  # the scratch container's environment
    ready: str  # succeeds once the scratch container accepts connections
    image: str


ENGINES = {
    "postgres": Engine(
        "postgres", ("POSTGRES_URL",), "postgres.dump",
        ('pg_dump --dbname="${POSTGRES_URL}" --format=custom --no-owner --no-privileges '
         "--file=/backup/postgres.dump",),
        ("pg_restore --username=postgres --dbname=postgres --no-owner --no-privileges --exit-on-error "
         "/tmp/postgres.dump",),
        "psql --username=postgres --dbname=postgres --tuples-only --no-align --command=\"select count(*) from "
        "information_schema.tables where table_schema not in ('pg_catalog', 'information_schema')\"",
        "tables", (("POSTGRES_PASSWORD", "scratch"),),
        # Over TCP: the image's initialisation server listens on the socket only, then restarts.
        "pg_isready --host=127.0.0.1 --username=postgres",
        BACKING["postgres"].image,
    ),
    "mysql": Engine(
        "mysql", ("mysql.cnf", "MYSQL_DATABASE"), "mysql.sql.gz",
        ('mysqldump --defaults-extra-file=/secrets/mysql.cnf --single-transaction --routines --triggers '
         '--events --set-gtid-purged=OFF --databases "${MYSQL_DATABASE}" --result-file=/backup/mysql.sql',
         "gzip /backup/mysql.sql"),
        ('gunzip -c /tmp/mysql.sql.gz | mysql --user=root --password="${MYSQL_ROOT_PASSWORD}"',),
        "mysql --user=root --password=\"${MYSQL_ROOT_PASSWORD}\" --skip-column-names --execute=\"select count(*) "
        "from information_schema.tables where table_schema not in ('mysql', 'sys', 'information_schema', "
        "'performance_schema')\"",
        "tables", (("MYSQL_ROOT_PASSWORD", "scratch"),),
        'mysqladmin ping --host=127.0.0.1 --user=root --password="${MYSQL_ROOT_PASSWORD}" --silent',
        BACKING["mysql"].image,
    ),
    "mariadb": Engine(
        "mariadb", ("mysql.cnf", "MYSQL_DATABASE"), "mariadb.sql.gz",
        ('mariadb-dump --defaults-extra-file=/secrets/mysql.cnf --single-transaction --routines --triggers '
         '--events --databases "${MYSQL_DATABASE}" --result-file=/backup/mariadb.sql',
         "gzip /backup/mariadb.sql"),
        ('gunzip -c /tmp/mariadb.sql.gz | mariadb --user=root --password="${MARIADB_ROOT_PASSWORD}"',),
        "mariadb --user=root --password=\"${MARIADB_ROOT_PASSWORD}\" --skip-column-names --execute=\"select "
        "count(*) from information_schema.tables where table_schema not in ('mysql', 'sys', "
        "'information_schema', 'performance_schema')\"",
        "tables", (("MARIADB_ROOT_PASSWORD", "scratch"),), "healthcheck.sh --connect",
        BACKING["mariadb"].image,
    ),
    "mongodb": Engine(
        "mongodb", ("MONGODB_URI",), "mongodb.archive.gz",
        ('mongodump --uri="${MONGODB_URI}" --archive=/backup/mongodb.archive.gz --gzip',),
        ("mongorestore --archive=/tmp/mongodb.archive.gz --gzip --drop",),
        "mongosh --quiet --eval \"db.adminCommand({listDatabases: 1}).databases.filter(d => "
        "!['admin', 'config', 'local'].includes(d.name)).map(d => db.getSiblingDB(d.name)"
        ".getCollectionNames().length).reduce((a, b) => a + b, 0)\"",
        "collections", (), "mongosh --quiet --eval \"db.adminCommand('ping').ok\"",
        BACKING["mongodb"].image,
    ),
    "redis": Engine(
        "redis", ("REDIS_URL",), "redis.rdb",
        ('redis-cli -u "${REDIS_URL}" --rdb /backup/redis.rdb',),
        (),  # loaded at start from /data/dump.rdb
        "redis-cli dbsize", "keys", (), "redis-cli ping", BACKING["redis"].image,
    ),
}


def wanted(plan: Plan) -> bool:
    """Whether the plan gets the backup kit: a stateful service is detected."""
    return bool(stateful_services(plan))


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    files = [RenderedFile(DOC, disaster_recovery(plan))]
    services = dumped_services(plan)
    if not services:
        return tuple(files)
    files += _cronjob_kit(plan, services)
    files.append(RenderedFile(SCRIPT, restore_test_script(plan, services), executable=True))
    ci = plan.requirements.ci
    if ci == "github":
        files.append(RenderedFile(GITHUB_WORKFLOW, _github(plan)))
    elif ci == "azure":
        files.append(RenderedFile(AZURE_PIPELINE, _azure(plan)))
    elif ci == "jenkins":
        files.append(RenderedFile(JENKINSFILE, _jenkins(plan)))
    return tuple(files)


# -- the CronJobs ------------------------------------------------------------------------


def backup_secret(plan: Plan) -> str:
    return f"{plan.app_name}-backup"


def backup_config(plan: Plan) -> str:
    return f"{plan.app_name}-backup-config"


def _labels(service: str) -> dict[str, str]:
    return {k8s.NAME: f"backup-{service}", k8s.COMPONENT: COMPONENT}


def _target_env(plan: Plan) -> Any:
    return plan.environment("prod") or plan.environments[-1]


def _cronjob_kit(plan: Plan, services: tuple[str, ...]) -> list[RenderedFile]:
    env = _target_env(plan)
    rpo = plan.requirements.rpo_minutes
    files = [
        _yaml(f"{DIR}/serviceaccount.yaml", {
            "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"{plan.app_name}-backup"},
            "automountServiceAccountToken": comment(False, "Backup pods do not call the Kubernetes API."),
        }, "ServiceAccount of the backup CronJobs"),
        _yaml(f"{DIR}/networkpolicy.yaml", {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"{plan.app_name}-backup"},
            "spec": {
                "podSelector": {"matchLabels": {k8s.COMPONENT: COMPONENT}},
                "policyTypes": comment(["Ingress"], "Egress stays open: the database and the bucket are reached."),
                "ingress": comment([], "A backup pod accepts no connections."),
            },
        }, "NetworkPolicy of the backup pods"),
    ]
    for service in services:
        files.append(_yaml(f"{DIR}/{service}.yaml", cronjob(plan, service),
                           f"CronJob backing up {service} every {backup_interval_minutes(rpo)} minutes"))
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": comment(env.namespace, f"Backups protect {env.name}'s data."),
        "resources": ["serviceaccount.yaml", "networkpolicy.yaml", *(f"{service}.yaml" for service in services)],
        "configMapGenerator": comment([{
            "name": backup_config(plan),
            "literals": [
                f"BACKUP_BUCKET_URL=s3://{plan.app_name}-backups/{env.name}",
                "AWS_REGION=us-east-1",
            ],
        }], "Where dumps go: an S3 (or S3-compatible) bucket and prefix, and its region. Edit both;\n"
            "for another S3-compatible store add AWS_ENDPOINT_URL=https://… (the AWS CLI reads it)."),
        "labels": [{"pairs": {k8s.PART_OF: plan.app_name, k8s.MANAGED_BY: "deploysmith"},
                    "includeTemplates": True}],
    }
    files.append(_yaml(f"{DIR}/kustomization.yaml", kustomization,
                       "backups of the stateful services: kubectl apply -k deploy/backup"))
    return files


def cronjob(plan: Plan, service: str) -> dict[str, Any]:
    engine = ENGINES[service]
    rpo = plan.requirements.rpo_minutes
    interval = backup_interval_minutes(rpo)
    secret = backup_secret(plan)
    mysql_like = service in ("mysql", "mariadb")
    dump_env = [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for key in engine.secret_keys if key != "mysql.cnf"
    ]
    dump_container: dict[str, Any] = {
        "name": "dump",
        "image": engine.image,
        "command": comment(["sh", "-c", "\n".join(["set -eu", *engine.dump])],
                           f"{DUMP_TOOLS[service]} into the emptyDir; a failure fails the Job before any upload."),
        "env": [*dump_env, {"name": "HOME", "value": "/tmp"}],
        "securityContext": _container_security(),
        "resources": _resources(),
        "volumeMounts": [{"name": "backup", "mountPath": "/backup"}, {"name": "tmp", "mountPath": "/tmp"},
                         *([{"name": "credentials", "mountPath": "/secrets", "readOnly": True}]
                           if mysql_like else [])],
    }
    upload_lines = [
        "set -eu",
        'stamp="$(date -u +%Y%m%dT%H%M%SZ)"',
        f'aws s3 cp "/backup/{engine.file}" "${{BACKUP_BUCKET_URL}}/{service}/${{stamp}}-{engine.file}" '
        "--sse aws:kms --only-show-errors",
        f'echo "uploaded {service}/${{stamp}}-{engine.file}"',
    ]
    upload: dict[str, Any] = {
        "name": "upload",
        "image": AWS_CLI_IMAGE,
        "command": comment(["sh", "-c", "\n".join(upload_lines)],
                           "Object keys start with a UTC timestamp, so the newest dump sorts last. SSE-KMS is\n"
                           "requested on every upload; the bucket policy in DISASTER-RECOVERY.md refuses others."),
        "envFrom": [{"configMapRef": {"name": backup_config(plan)}}],
        "env": comment([
            {"name": "AWS_ACCESS_KEY_ID",
             "valueFrom": {"secretKeyRef": {"name": secret, "key": "AWS_ACCESS_KEY_ID", "optional": True}}},
            {"name": "AWS_SECRET_ACCESS_KEY",
             "valueFrom": {"secretKeyRef": {"name": secret, "key": "AWS_SECRET_ACCESS_KEY", "optional": True}}},
            {"name": "HOME", "value": "/tmp"},
        ], "Keys of a write-only uploader; leave them out of the Secret to use the pod's workload identity."),
        "securityContext": _container_security(),
        "resources": _resources(),
        "volumeMounts": [{"name": "backup", "mountPath": "/backup", "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    volumes: list[dict[str, Any]] = [
        {"name": "backup", "emptyDir": {"sizeLimit": "20Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    if mysql_like:
        volumes.append({"name": "credentials", "secret": {
            "secretName": secret, "items": [{"key": "mysql.cnf", "path": "mysql.cnf"}], "defaultMode": 0o400}})
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": f"{plan.app_name}-backup",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": comment([dump_container], "The dump finishes before the upload starts."),
        "containers": [upload],
        "volumes": volumes,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": f"backup-{service}"},
        "spec": {
            "schedule": comment(backup_schedule(rpo), f"Every {interval} minutes: the RPO is {rpo} minutes, so a "
                                f"loss costs at most {interval} minutes of writes."),
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": comment("Forbid", "A slow dump is never overlapped by the next one."),
            "startingDeadlineSeconds": comment(300, "A run missed by more than 5 minutes waits for the next slot."),
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": comment(3, "Failed Jobs stay for `kubectl logs`; alert on them (see the doc)."),
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": comment(
                        min(interval, 60) * 60, "A dump that outlasts its interval (at most an hour) fails."),
                    "ttlSecondsAfterFinished": 86400,
                    "template": {"metadata": {"labels": _labels(service)}, "spec": pod_spec},
                },
            },
        },
    }


def _container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def _resources() -> dict[str, Any]:
    return {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


def _yaml(path: str, data: Any, what: str) -> RenderedFile:
    return RenderedFile(path, dump(data, header(what)))


# -- the restore test --------------------------------------------------------------------


def restore_test_script(plan: Plan, services: tuple[str, ...]) -> str:
    interval = backup_interval_minutes(plan.requirements.rpo_minutes)
    # A dump may be one interval old, plus the time the dump itself takes (an hour at most).
    max_age = interval * 60 + 3600
    lines = [
        "#!/usr/bin/env bash",
        f"# {header('restore test of the latest backups').replace(chr(10), chr(10) + '# ')}",
        "#",
        "# Restores the newest dump of each service into a throwaway container and checks it.",
        "# Needs docker and the bucket's read credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or",
        "# AWS_ROLE_ARN plus AWS_WEB_IDENTITY_TOKEN (a CI OIDC token with audience sts.amazonaws.com).",
        "set -euo pipefail",
        "",
        ': "${BACKUP_BUCKET_URL:?set BACKUP_BUCKET_URL to the bucket and prefix of deploy/backup/kustomization.yaml}"',
        ': "${AWS_REGION:=us-east-1}"',
        f"aws_image={shlex.quote(AWS_CLI_IMAGE)}",
        f"max_age_seconds={max_age}",
        "network=\"restore-test-$$\"",
        "workdir=\"$(mktemp -d)\"",
        "",
        "cleanup() {",
        '  docker ps -aq --filter "label=restore-test=$$" | xargs -r docker rm -f >/dev/null',
        '  docker network rm "$network" >/dev/null 2>&1 || true',
        '  rm -rf "$workdir"',
        "}",
        "trap cleanup EXIT",
        "",
        "aws() {",
        "  docker run --rm -i -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN -e AWS_REGION \\",
        '    -e AWS_ENDPOINT_URL "$aws_image" "$@"',
        "}",
        "",
        'if [[ -n "${AWS_ROLE_ARN:-}" && -n "${AWS_WEB_IDENTITY_TOKEN:-}" ]]; then',
        "  read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN < <(",
        '    aws sts assume-role-with-web-identity --role-arn "$AWS_ROLE_ARN" --role-session-name restore-test \\',
        '      --web-identity-token "$AWS_WEB_IDENTITY_TOKEN" \\',
        "      --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)",
        "  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN",
        "fi",
        "",
        "# The newest object under <bucket>/<service>/ (keys start with a UTC timestamp).",
        "latest() {",
        '  aws s3 ls "${BACKUP_BUCKET_URL}/$1/" | awk \'{print $4}\' | sort | tail -n 1',
        "}",
        "",
        "# Fails when the dump is older than one backup interval plus an hour: the CronJob is failing.",
        "check_age() {",
        "  local stamp=\"${1%%-*}\" taken now",
        '  taken="$(date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2} ${stamp:9:2}:${stamp:11:2}:${stamp:13:2}" +%s)"',
        '  now="$(date -u +%s)"',
        '  if (( now - taken > max_age_seconds )); then',
        '    echo "restore test: the newest $2 dump ($1) is older than the RPO allows" >&2',
        "    return 1",
        "  fi",
        "}",
        "",
        "wait_ready() {",
        "  local tries=60",
        "  while (( tries-- > 0 )); do",
        '    if docker exec "$1" sh -c "$2" >/dev/null 2>&1; then return 0; fi',
        "    sleep 2",
        "  done",
        '  echo "restore test: scratch $1 did not start" >&2',
        "  return 1",
        "}",
        "",
        'docker network create "$network" >/dev/null',
    ]
    for service in services:
        engine = ENGINES[service]
        env_flags = " ".join(f"-e {shlex.quote(f'{key}={value}')}" for key, value in engine.scratch_env)
        container = f'"restore-test-{service}-$$"'
        lines += [
            "",
            f"# {service}: {DUMP_TOOLS[service]} dump → scratch {engine.image} → count {engine.what}",
            f"restore_{service}() {{",
            f"  local key count container={container}",
            f'  key="$(latest {service})"',
            f'  if [[ -z "$key" ]]; then echo "restore test: no {service} dump under '
            f'${{BACKUP_BUCKET_URL}}/{service}/" >&2; return 1; fi',
            f'  check_age "$key" {service}',
            f'  aws s3 cp "${{BACKUP_BUCKET_URL}}/{service}/${{key}}" - > "$workdir/{engine.file}"',
            " ".join(part for part in (
                '  docker create --name "$container" --label "restore-test=$$" --network "$network"',
                env_flags, shlex.quote(engine.image), ">/dev/null") if part),
            # Copied in before the first start: Redis loads dump.rdb at start (and would overwrite it
            # with an empty dataset on a restart); the others read it from /tmp once ready.
            f'  docker cp "$workdir/{engine.file}" "$container:{_scratch_path(service)}"',
            '  docker start "$container" >/dev/null',
        ]
        lines.append(f'  wait_ready "$container" {shlex.quote(engine.ready)}')
        if service != "redis":
            for command in engine.restore:
                lines.append(f'  docker exec "$container" sh -c {shlex.quote(command)}')
        lines += [
            f'  count="$(docker exec "$container" sh -c {shlex.quote(engine.check)} | tr -d "[:space:]")"',
            '  if ! [[ "$count" =~ ^[0-9]+$ ]] || (( count == 0 )); then',
            f'    echo "restore test: {service} dump $key restored no {engine.what} (got: $count)" >&2',
            "    return 1",
            "  fi",
            f'  echo "restore test: {service} dump $key restored $count {engine.what}"',
            "}",
            f"restore_{service}",
        ]
    lines += ["", 'echo "restore test: every backup restored"']
    return "\n".join(lines) + "\n"


def _scratch_path(service: str) -> str:
    return "/data/dump.rdb" if service == "redis" else f"/tmp/{ENGINES[service].file}"


def _github(plan: Plan) -> str:
    from deploysmith.render.actions_pins import uses

    workflow = {
        "name": "restore-test",
        "on": comment(
            {"schedule": [{"cron": RESTORE_TEST_CRON}], "workflow_dispatch": {}},
            "Weekly, and by hand after any change to the backups: a backup nobody restored is a hope.",
        ),
        "permissions": {},
        "concurrency": {"group": "restore-test", "cancel-in-progress": False},
        "jobs": {
            "restore-test": comment({
                "name": "Restore test",
                "runs-on": RUNNER,
                "timeout-minutes": 60,
                "environment": comment(
                    "backups", "Holds BACKUP_BUCKET_URL, AWS_REGION and AWS_BACKUP_READER_ROLE_ARN."),
                "permissions": {"contents": "read", "id-token": "write"},
                "steps": [
                    {"uses": uses("actions/checkout"), "with": {"persist-credentials": False}},
                    {
                        "name": "Restore the newest backups into scratch databases and check them",
                        "env": {
                            "BACKUP_BUCKET_URL": "${{ vars.BACKUP_BUCKET_URL }}",
                            "AWS_REGION": "${{ vars.AWS_REGION }}",
                            "AWS_ROLE_ARN": "${{ vars.AWS_BACKUP_READER_ROLE_ARN }}",
                        },
                        "run": "\n".join([
                            'AWS_WEB_IDENTITY_TOKEN="$(curl -fsS '
                            '-H "Authorization: bearer ${ACTIONS_ID_TOKEN_REQUEST_TOKEN}" '
                            '"${ACTIONS_ID_TOKEN_REQUEST_URL}&audience=sts.amazonaws.com" | jq -r .value)"',
                            'echo "::add-mask::${AWS_WEB_IDENTITY_TOKEN}"',
                            "export AWS_WEB_IDENTITY_TOKEN",
                            f"bash {SCRIPT}",
                        ]),
                    },
                ],
            }, "Restores the newest dump of each service into a throwaway container and checks it; the\n"
               "role may only read the backup bucket (see docs/deploy/DISASTER-RECOVERY.md)."),
        },
    }
    return _annotate_pins(dump(workflow, header("scheduled restore test of the backups")))


def _annotate_pins(text: str) -> str:
    """`# <tag>` after each pinned `uses:`, as the main workflow writes them."""
    from deploysmith.render.actions_pins import tag_of

    lines = []
    for line in text.split("\n"):
        key, _, value = line.partition("uses: ")
        tag = tag_of(value.strip()) if value and not key.strip("- ") else None
        lines.append(f"{line} # {tag}" if tag else line)
    return "\n".join(lines)


def _azure(plan: Plan) -> str:
    pipeline = {
        "trigger": "none",
        "pr": "none",
        "schedules": comment([{
            "cron": RESTORE_TEST_CRON, "displayName": "Weekly restore test",
            "branches": {"include": ["main"]}, "always": "true",
        }], "Weekly, whether or not main changed: a backup nobody restored is a hope."),
        "pool": {"vmImage": RUNNER},
        "variables": [{"group": "backups"}],
        "jobs": [{
            "job": "restore_test",
            "displayName": "Restore test",
            "timeoutInMinutes": "60",
            "steps": [
                {"checkout": "self", "persistCredentials": "false"},
                {
                    "bash": f"bash {SCRIPT}",
                    "displayName": "Restore the newest backups into scratch databases and check them",
                    "env": comment({
                        "BACKUP_BUCKET_URL": "$(BACKUP_BUCKET_URL)",
                        "AWS_REGION": "$(AWS_REGION)",
                        "AWS_ACCESS_KEY_ID": "$(BACKUP_READER_ACCESS_KEY_ID)",
                        "AWS_SECRET_ACCESS_KEY": "$(BACKUP_READER_SECRET_ACCESS_KEY)",
                    }, "From the `backups` variable group: a read-only key of the backup bucket (secret)."),
                },
            ],
        }],
    }
    return dump(pipeline, header(f"scheduled restore test of the backups; add it as a second pipeline "
                                 f"({AZURE_PIPELINE})"))


def _jenkins(plan: Plan) -> str:
    from deploysmith.render.jenkins import q

    lines = [
        *(f"// {line}" for line in header("scheduled restore test of the backups; a second Pipeline job "
                                          f"with script path {JENKINSFILE}").splitlines()),
        "pipeline {",
        "    agent { label 'docker' }",
        "    // Weekly: a backup nobody restored is a hope.",
        f"    triggers {{ cron({q('H 6 * * 1')}) }}",
        "    options {",
        "        timeout(time: 60, unit: 'MINUTES')",
        "        disableConcurrentBuilds()",
        "    }",
        "    stages {",
        "        stage('Restore test') {",
        "            steps {",
        "                // A read-only key of the backup bucket (username: key ID, password: secret key);",
        "                // the bucket URL and region are global environment variables of the controller.",
        "                withCredentials([usernamePassword(credentialsId: 'backup-reader', "
        "usernameVariable: 'AWS_ACCESS_KEY_ID', passwordVariable: 'AWS_SECRET_ACCESS_KEY')]) {",
        f"                    sh(label: {q('Restore the newest backups into scratch databases and check them')}, "
        f"script: {q('bash ' + SCRIPT)})",
        "                }",
        "            }",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


# -- the document ------------------------------------------------------------------------


def disaster_recovery(plan: Plan) -> str:
    requirements = plan.requirements
    sources = requirements.sources
    rpo, rto = requirements.rpo_minutes, requirements.rto_minutes
    rpo_source = _source_words(sources.get("rpo_minutes"), rpo == 60)
    rto_source = _source_words(sources.get("rto_minutes"), rto == 240)
    services = stateful_services(plan)
    managed = managed_service(plan)
    dumped = dumped_services(plan)
    interval = backup_interval_minutes(rpo)
    env = _target_env(plan)
    parts = [
        f"<!-- {header('backups and disaster recovery').splitlines()[0]} -->",
        f"# Disaster recovery: {plan.app_name}",
        "",
        "## Targets",
        "",
        "| Objective | Target | Source |",
        "|---|---|---|",
        f"| RPO (data a loss may cost) | {rpo} minutes | {rpo_source} (60 minutes unless set with `--rpo-minutes`) |",
        f"| RTO (time to serve again) | {rto} minutes | {rto_source} (240 minutes unless set with `--rto-minutes`) |",
        "",
    ]
    if not services:
        parts += ["No stateful backing service was detected: the application keeps no data this kit backs up. "
                  "Recovery is a redeploy of the last good image (RUNBOOK.md).", ""]
        return "\n".join(parts)
    parts += ["## What is backed up", "", "| Service | How | Frequency | Retention | Encryption |",
              "|---|---|---|---|---|"]
    if managed is not None:
        engine = managed_database(plan)
        parts.append(
            f"| {managed} | managed {engine} ({requirements.iac}): automated daily snapshots plus transaction "
            f"logs, point-in-time recovery to any second | continuous (PITR) | 35 days in prod, 7 elsewhere | "
            "at rest with the database's own KMS key; TLS required in transit |"
        )
    for service in dumped:
        parts.append(
            f"| {service} | CronJob `backup-{service}` in `{DIR}/` ({DUMP_TOOLS[service]}) → object storage | "
            f"every {interval} minutes (`{backup_schedule(rpo)}`) | {DUMP_RETENTION_DAYS} days (bucket "
            "lifecycle rule) | at rest SSE-KMS on the bucket (requested per upload, enforced by bucket policy); "
            "TLS in transit; not client-side |"
        )
    uncovered = uncovered_services(plan)
    for service in uncovered:
        parts.append(f"| {service} | **not covered**: back it up with its operator or managed service | — | — | — |")
    if requirements.target != "kubernetes" and not managed:
        for service in services:
            parts.append(f"| {service} | **the platform's**: enable its managed backups and PITR "
                         f"({requirements.target} has no CronJobs) | — | — | — |")
    parts.append("")
    if rpo < 5 and dumped:
        parts += ["An RPO under 5 minutes cannot be met by dumps: use continuous archiving (a managed database "
                  "with PITR, or WAL/binlog shipping). The CronJobs run every 5 minutes.", ""]
    if dumped:
        parts += _cronjob_setup(plan, dumped, env)
    parts += ["## Restore", "",
              f"Restore into a **new** database first, check it, then point the application at it: a restore "
              f"over the live database destroys the evidence and cannot be retried. Budget: the RTO is {rto} "
              "minutes.", ""]
    if managed is not None:
        parts += _managed_restore(plan)
    for service in dumped:
        parts += _dump_restore(plan, service, env)
    parts += [
        "Afterwards: update the application Secret with the new address, restart the rollout "
        f"(`kubectl -n {env.namespace} rollout restart deployment`), run the integration check, and write "
        "down the timestamp restored to (the data after it is lost or must be replayed).",
        "",
        "## Restore test",
        "",
    ]
    if dumped:
        parts += [
            f"`{SCRIPT}` restores the newest dump of each service into a throwaway container, counts what came "
            "back, and fails when a dump is missing, empty or older than the schedule allows. CI runs it every "
            f"Monday ({_restore_test_where(plan)}). Run it by hand after changing the backups:",
            "",
            "```sh",
            f"BACKUP_BUCKET_URL=s3://{plan.app_name}-backups/{env.name} bash {SCRIPT}",
            "```",
            "",
        ]
    if managed is not None:
        parts += [
            "For the managed database, rehearse the point-in-time restore above into a scratch instance once a "
            "quarter, check row counts of the main tables, and delete the scratch instance.",
            "",
        ]
    parts += _high_availability(plan)
    return "\n".join(parts)


def _source_words(source: str | None, is_default: bool) -> str:
    if source is None:
        source = "default" if is_default else "given"
    return "the default" if source == "default" else "from the requirements"


def _restore_test_where(plan: Plan) -> str:
    return {
        "github": f"`{GITHUB_WORKFLOW}`",
        "azure": f"`{AZURE_PIPELINE}`, a second pipeline",
        "jenkins": f"`{JENKINSFILE}`, a second Pipeline job",
        "gitlab": "the `restore-test` job of `.gitlab-ci.yml`, in scheduled pipelines (CI/CD > Schedules)",
        "circleci": "the `restore-test` workflow of `.circleci/config.yml`, on a scheduled pipeline",
    }[plan.requirements.ci]


def _cronjob_setup(plan: Plan, services: tuple[str, ...], env: Any) -> list[str]:
    keys: list[str] = []
    for service in services:
        keys += [key for key in ENGINES[service].secret_keys if key not in keys]
    literal = " ".join(
        "--from-file=mysql.cnf=./mysql.cnf" if key == "mysql.cnf" else f"--from-literal={key}='…'" for key in keys
    )
    bucket = f"{plan.app_name}-backups"
    lifecycle = ('{"Rules":[{"ID":"expire-dumps","Status":"Enabled","Filter":{"Prefix":""},'
                 f'"Expiration":{{"Days":{DUMP_RETENTION_DAYS}}}}}]}}')
    return [
        "## Set up the in-cluster backups (once)",
        "",
        f"1. Create the bucket with versioning, default SSE-KMS encryption, a lifecycle rule that expires dumps "
        f"after {DUMP_RETENTION_DAYS} days, and a policy that denies uploads without SSE-KMS:",
        "",
        "   ```sh",
        f"   aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled",
        f"   aws s3api put-bucket-encryption --bucket {bucket} --server-side-encryption-configuration "
        "'{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\"}}]}'",
        f"   aws s3api put-bucket-lifecycle-configuration --bucket {bucket} --lifecycle-configuration '{lifecycle}'",
        f"   aws s3api put-bucket-policy --bucket {bucket} --policy '{_deny_unencrypted(bucket)}'",
        "   ```",
        "",
        f"2. Set `BACKUP_BUCKET_URL` and `AWS_REGION` in `{DIR}/kustomization.yaml`.",
        f"3. Create a read-only database user for backups and the Secret `{backup_secret(plan)}` in "
        f"`{env.namespace}` (the uploader's keys may only `s3:PutObject` on the bucket; leave them out to use "
        "the pod's workload identity):",
        "",
        "   ```sh",
        f"   kubectl -n {env.namespace} create secret generic {backup_secret(plan)} {literal} "
        "--from-literal=AWS_ACCESS_KEY_ID='…' --from-literal=AWS_SECRET_ACCESS_KEY='…'",
        "   ```",
        "",
        *(["   `mysql.cnf` holds a `[client]` section with `host`, `port`, `user`, `password` and `ssl-mode=REQUIRED`.",
           ""] if any(s in services for s in ("mysql", "mariadb")) else []),
        f"4. `kubectl apply -k {DIR}`, then run one backup now and read its log:",
        "",
        "   ```sh",
        *(f"   kubectl -n {env.namespace} create job --from=cronjob/backup-{s} backup-{s}-manual" for s in services),
        f"   kubectl -n {env.namespace} logs -l {k8s.COMPONENT}={COMPONENT} --all-containers --tail=50",
        "   ```",
        "",
        "5. Alert on failed backup Jobs (`kube_job_status_failed{job_name=~\"backup-.*\"} > 0` with "
        "kube-state-metrics) and on the restore test failing.",
        "",
        "Velero schedules (namespaces and volumes) are an alternative when the databases run in the cluster "
        "on PersistentVolumes; dumps are used here because they restore into any server version and any place.",
        "",
    ]


def _deny_unencrypted(bucket: str) -> str:
    import json

    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyUnencryptedUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        {"Sid": "DenyPlainHttp", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}, separators=(",", ":"))


def _managed_restore(plan: Plan) -> list[str]:
    engine = managed_database(plan)
    app = plan.app_name
    prod = f"{app}-prod"
    lines = [f"### Managed {engine} (point in time)", ""]
    if plan.requirements.iac in ("terraform", "pulumi", "cloudformation"):
        lines += [
            "On AWS (RDS), restore to a new instance at a time inside the retention window, then check it:",
            "",
            "```sh",
            f"aws rds restore-db-instance-to-point-in-time --source-db-instance-identifier {prod} \\",
            f"  --target-db-instance-identifier {prod}-restore --restore-time 2026-01-31T09:45:00Z \\",
            f"  --db-subnet-group-name {prod} --no-publicly-accessible",
            f"aws rds wait db-instance-available --db-instance-identifier {prod}-restore",
            "```",
            "",
            "Cloud SQL: `gcloud sql instances clone <instance> <instance>-restore --point-in-time=…`; "
            "Azure Database: `az postgres flexible-server restore --source-server … --restore-time …`.",
            "Then import the restored instance into the IaC state (or swap names) so the next apply manages it.",
            "",
        ]
    return lines


def _dump_restore(plan: Plan, service: str, env: Any) -> list[str]:
    engine = ENGINES[service]
    url = f"s3://{plan.app_name}-backups/{env.name}"
    target = {
        "postgres": ['pg_restore --dbname="$TARGET_URL" --no-owner --no-privileges --exit-on-error '
                     f"{engine.file}"],
        "mysql": [f'gunzip -c {engine.file} | mysql --defaults-extra-file=./target.cnf'],
        "mariadb": [f'gunzip -c {engine.file} | mariadb --defaults-extra-file=./target.cnf'],
        "mongodb": [f'mongorestore --uri="$TARGET_URI" --archive={engine.file} --gzip --drop'],
        "redis": ["# stop the target Redis, put the file in its data directory as dump.rdb, start it:",
                  f"cp {engine.file} /data/dump.rdb"],
    }[service]
    return [
        f"### {service} (from the dumps)",
        "",
        "```sh",
        f"aws s3 ls {url}/{service}/ | tail -n 5        # pick a dump (newest last)",
        f"aws s3 cp {url}/{service}/<key> ./{engine.file}",
        *target,
        "```",
        "",
        f"Check before switching: count the {engine.what} and compare with the last known numbers "
        "(the restore test prints them each week).",
        "",
    ]


def _high_availability(plan: Plan) -> list[str]:
    prod = plan.environment("prod")
    lines = ["## High availability", ""]
    if prod is not None:
        lines.append(f"- prod runs {prod.min_replicas} to {prod.max_replicas} replicas (never fewer than two), "
                     "spread across nodes, with a PodDisruptionBudget allowing one eviction at a time.")
    if managed_database(plan):
        lines.append("- The managed database has a synchronous standby in a second zone in prod (Multi-AZ / "
                     "regional / zone-redundant); failover is automatic and keeps the address.")
    from deploysmith.render import packaging  # packaging's renderers import the kit modules

    prod_name = prod.name if (prod := plan.environment("prod")) else plan.environments[-1].name
    lines.append(f"- Losing the cluster: recreate it, deploy `{packaging.settings_path(plan, prod_name)}` again (or "
                 "let GitOps sync), create the Secrets again from your secret store, and restore data as above.")
    lines.append("")
    return lines


# -- the restore test in single-file pipelines (GitLab, CircleCI) ----------------------------


def gitlab_jobs(plan: Plan) -> dict[str, Any]:
    """The restore-test job of .gitlab-ci.yml: scheduled pipelines only (CI/CD > Schedules)."""
    if not dumped_services(plan):
        return {}
    from deploysmith.render import ci_common as ci

    job = {
        "stage": "test",
        "image": ci.DOCKER_IMAGE,
        "services": [ci.DIND_IMAGE],
        "needs": [],
        "rules": [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}],
        "variables": {"DOCKER_TLS_CERTDIR": "/certs"},
        "id_tokens": {"AWS_WEB_IDENTITY_TOKEN": {"aud": "sts.amazonaws.com"}},
        "timeout": "60 minutes",
        "before_script": ["apk add --no-cache bash"],
        "script": [f"bash {SCRIPT}"],
    }
    return {"restore-test": comment(job, ci.wrap(
        "Scheduled pipelines only (CI/CD > Schedules, weekly on main). Restores the newest backup of each "
        "service into a throwaway container and checks it; signs in to the bucket with the job's OIDC token "
        "(AWS_ROLE_ARN: a role that may only read the backup bucket; BACKUP_BUCKET_URL and AWS_REGION: "
        "CI/CD variables). See docs/deploy/DISASTER-RECOVERY.md."))}


def add_circleci(plan: Plan, config: dict[str, Any]) -> None:
    """The restore-test job and its scheduled workflow in .circleci/config.yml; the delivery
    workflow stays off scheduled pipelines."""
    if not dumped_services(plan):
        return
    from deploysmith.render import ci_common as ci

    scheduled = {"equal": ["scheduled_pipeline", "<< pipeline.trigger_source >>"]}
    config["jobs"]["restore-test"] = comment({
        "docker": [{"image": ci.DOCKER_IMAGE}],
        "resource_class": "medium",
        "steps": [
            "checkout",
            {"setup_remote_docker": {"docker_layer_caching": False}},
            {"run": {"name": "Restore the newest backups into scratch databases and check them",
                     "command": f"apk add --no-cache bash\nbash {SCRIPT}\n", "no_output_timeout": "30m"}},
        ],
    }, ci.wrap("Restores the newest backup of each service into a throwaway container and checks it. Read-only "
               "keys of the backup bucket, BACKUP_BUCKET_URL and AWS_REGION come from the `backups` context."))
    workflows = config["workflows"]
    for name, workflow in list(workflows.items()):
        if isinstance(workflow, dict) and "when" not in workflow:
            workflows[name] = {"when": {"not": scheduled}, **workflow}
    workflows["restore-test"] = comment(
        {"when": scheduled, "jobs": [{"restore-test": {"context": ["backups"]}}]},
        "A scheduled pipeline (Project Settings > Triggers, weekly on main) runs only this workflow.",
    )
