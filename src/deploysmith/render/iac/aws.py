"""AWS: ECR, the runtime's roles and logs (ECS Fargate, Lambda, App Runner; none for an
existing Kubernetes cluster), RDS, Secrets Manager, Route 53 + ACM, and the CI identity
(an IAM OIDC provider and least-privilege roles)."""

from __future__ import annotations

from typing import Any

from deploysmith.model import Plan
from deploysmith.plan.infra import DATABASE_SIZES
from deploysmith.render.iac import federation
from deploysmith.render.iac.hcl import Block, Call, Get, Op, Ref, Template
from deploysmith.render.iac.model import Module, Output, Resource, Validation, Variable
from deploysmith.render.iac.naming import Naming

ENGINE_VERSION = {"postgres": "17", "mysql": "8.4"}
PARAMETER_FAMILY = {"postgres": "postgres17", "mysql": "mysql8.4"}
DB_PORT = {"postgres": 5432, "mysql": 3306}
LOG_EXPORTS = {"postgres": ["postgresql", "upgrade"], "mysql": ["audit", "error", "general", "slowquery"]}
LOG_RETENTION_DAYS = 365


def var(name: str) -> Ref:
    return Ref("var", name)


def policy(*statements: dict[str, Any]) -> Call:
    return Call("jsonencode", {"Version": "2012-10-17", "Statement": list(statements)})


def account_root() -> Template:
    return Template("arn:aws:iam::", Ref("data", "aws_caller_identity", "current", "account_id"), ":root")


def caller() -> Resource:
    return Resource("aws_caller_identity", "current", {}, data=True)


def kms_key(purpose: str, services: list[str] | None = None) -> list[Resource]:
    """A customer-managed key with rotation and an explicit key policy: the account's
    administrators manage it; the named AWS services may use it for this account only."""
    statements: list[dict[str, Any]] = [
        {"Sid": "AccountAdministration", "Effect": "Allow", "Principal": {"AWS": account_root()},
         "Action": "kms:*", "Resource": "*"},
    ]
    if services:
        statements.append({
            "Sid": "ServiceUse", "Effect": "Allow", "Principal": {"Service": services},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": Ref("data", "aws_caller_identity", "current",
                                                                    "account_id")}},
        })
    return [
        caller(),
        Resource("aws_kms_key", "this", {
            "description": purpose,
            "enable_key_rotation": True,
            "deletion_window_in_days": 30,
            "policy": policy(*statements),
        }, note="A key policy is always set: `Resource = \"*\"` in a key policy means this key only."),
    ]


def _name_variable(what: str) -> Variable:
    return Variable(
        "name", "string", f"Name prefix of the {what} (lowercase letters, digits and hyphens).",
        validations=(Validation(Call("can", Call("regex", "^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var("name"))),
                                "name must be 3-40 lowercase letters, digits or hyphens, starting with a letter."),),
    )


# -- registry ----------------------------------------------------------------------------


def registry(plan: Plan, naming: Naming) -> Module:
    resources = kms_key(f"ECR images of {plan.app_name}")
    outputs = []
    for image in plan.images:
        local = naming.local(image.name)
        resources.append(Resource("aws_ecr_repository", local, {
            "name": Template(var("name"), f"/{image.name}"),
            "image_tag_mutability": "IMMUTABLE",
            "image_scanning_configuration": Block({"scan_on_push": True}),
            "encryption_configuration": Block({"encryption_type": "KMS", "kms_key": Ref("aws_kms_key", "this", "arn")}),
        }, note="Tags are immutable: CI pushes each commit's SHA once and deploys by digest."))
        resources.append(Resource("aws_ecr_lifecycle_policy", local, {
            "repository": Ref("aws_ecr_repository", local, "name"),
            "policy": Call("jsonencode", {"rules": [{
                "rulePriority": 1,
                "description": "Keep the newest 100 images: enough to roll back weeks of releases.",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 100},
                "action": {"type": "expire"},
            }]}),
        }))
        outputs.append(Output(f"{local}_repository_url", Ref("aws_ecr_repository", local, "repository_url"),
                              f"Repository URL of the {image.name} image (what CI pushes to)."))
    outputs.append(Output("repository_arns", [Ref("aws_ecr_repository", naming.local(i.name), "arn")
                                              for i in plan.images],
                          "ARNs of the repositories, for the CI push role."))
    return Module("registry", "Container registry: one ECR repository per image, KMS-encrypted, scanned on push.",
                  (_name_variable("repositories"),), tuple(resources), tuple(outputs))


# -- CI identity -------------------------------------------------------------------------


def _conditions(*tests: tuple[str, Any, Any]) -> dict[str, Any]:
    """IAM condition operators, each holding its keys (two tests may share an operator)."""
    merged: dict[str, Any] = {}
    for operator, key, value in tests:
        merged.setdefault(operator, {})[key] = value
    return merged


def ci_identity(plan: Plan) -> Module:
    ci = federation.of(plan)
    variables = [
        _name_variable("CI roles"),
        Variable("repository_arns", "list(string)", "ECR repositories the pipeline may push to.",
                 validations=(Validation(Op(Call("length", var("repository_arns")), ">", 0),
                                         "at least one repository ARN is needed."),)),
    ]
    resources: list[Resource] = []
    if ci.issuer is None:
        variables.append(Variable(
            "ci_principal_arn", "string",
            f"The IAM principal {ci.platform} agents run as ({ci.platform} has no OIDC token issuer).",
            validations=(Validation(Call("startswith", var("ci_principal_arn"), "arn:aws:iam::"),
                                    "ci_principal_arn must be an IAM role or user ARN."),),
        ))
        trust = {"Effect": "Allow", "Principal": {"AWS": var("ci_principal_arn")}, "Action": "sts:AssumeRole"}
    else:
        variables.extend(ci.variables)
        resources.append(Resource("aws_iam_openid_connect_provider", "ci", {
            "url": ci.issuer,
            "client_id_list": [ci.audience],
        }, note=f"{ci.platform}'s OIDC issuer: CI exchanges a short-lived job token for role credentials, "
                "so no AWS key is stored in CI."))
        trust = {
            "Effect": "Allow",
            "Principal": {"Federated": Ref("aws_iam_openid_connect_provider", "ci", "arn")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": _conditions(
                ("StringEquals", ci.claim("aud"), ci.audience),
                (ci.subject_operator, ci.claim("sub"), list(ci.push_subjects)),
            ),
        }
    resources.append(Resource("aws_iam_role", "push", {
        "name": Template(var("name"), "-ci-push"),
        "description": "Assumed by the pipeline's Package stage on the main branch to push images.",
        "max_session_duration": 3600,
        "assume_role_policy": policy(trust),
    }))
    resources.append(Resource("aws_iam_role_policy", "push", {
        "name": "push-images",
        "role": Ref("aws_iam_role", "push", "id"),
        "policy": policy(
            {"Sid": "Login", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Sid": "PushToOwnRepositories", "Effect": "Allow", "Action": [
                "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
                "ecr:DescribeImages", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
            ], "Resource": var("repository_arns")},
        ),
    }, note="ecr:GetAuthorizationToken has no resource-level scope; every other action is limited to "
            "this app's repositories."))
    outputs = [Output("push_role_arn", Ref("aws_iam_role", "push", "arn"),
                      "Role the Package stage assumes (set it as the CI variable AWS_ROLE_ARN).")]
    if ci.issuer is not None:
        outputs.append(Output("oidc_provider_arn", Ref("aws_iam_openid_connect_provider", "ci", "arn"),
                              "The CI OIDC provider; environment roots trust it for their deploy roles."))
    return Module("ci_identity", f"CI identity: {ci.platform} OIDC federation and a least-privilege push role.",
                  tuple(variables), tuple(resources), tuple(outputs))


# -- secrets -----------------------------------------------------------------------------


def secrets(plan: Plan) -> Module:
    resources = kms_key(f"Application secrets of {plan.app_name}", ["secretsmanager.amazonaws.com"])
    keys = sorted({key for workload in plan.workloads for key in workload.secret_env})
    resources.append(Resource("aws_secretsmanager_secret", "app", {
        "name": Template(var("name"), "/app"),
        "description": "Application settings read at start: " + (", ".join(keys) or "none yet") + ".",
        "kms_key_id": Ref("aws_kms_key", "this", "arn"),
        "recovery_window_in_days": 30,
    }, note="Only the secret is declared: its value is set out of band (never in state or in Git).",
        skips=(("CKV2_AWS_57", "application keys are rotated by the team; the database password is rotated "
                "by RDS (manage_master_user_password)"),)))
    outputs = (
        Output("secret_arn", Ref("aws_secretsmanager_secret", "app", "arn"), "ARN of the application secret."),
        Output("kms_key_arn", Ref("aws_kms_key", "this", "arn"), "Key that encrypts the application secret."),
    )
    return Module("secrets", "Secrets: one Secrets Manager secret for the application's settings, under its own key.",
                  (_name_variable("secret"),), tuple(resources), outputs)


# -- database ----------------------------------------------------------------------------


def database(plan: Plan, engine: str) -> Module:
    port = DB_PORT[engine]
    variables = (
        _name_variable("database"),
        Variable("instance_class", "string", "RDS instance class.",
                 validations=(Validation(Call("startswith", var("instance_class"), "db."),
                                         "instance_class must be an RDS class such as db.t4g.micro."),)),
        Variable("allocated_storage", "number", "Initial storage in GiB (autoscaling up to 4x).",
                 validations=(Validation(Op(var("allocated_storage"), ">=", 20),
                                         "allocated_storage must be at least 20 GiB."),)),
        Variable("multi_az", "bool", "A synchronous standby in a second availability zone (on in prod)."),
        Variable("backup_retention_days", "number",
                 "Days of automated backups, which is also the point-in-time recovery window.",
                 validations=(Validation(Op(Op(var("backup_retention_days"), ">=", 1), "&&",
                                            Op(var("backup_retention_days"), "<=", 35)),
                                         "backup_retention_days must be between 1 and 35."),)),
        Variable("vpc_id", "string", "VPC the database lives in.",
                 validations=(Validation(Call("startswith", var("vpc_id"), "vpc-"), "vpc_id must be a VPC ID."),)),
        Variable("subnet_ids", "list(string)", "Private subnets in at least two availability zones.",
                 validations=(Validation(Op(Call("length", var("subnet_ids")), ">=", 2),
                                         "RDS needs subnets in at least two availability zones."),)),
        Variable("client_cidr_blocks", "list(string)",
                 "Networks allowed to connect (the cluster's pod or node ranges, the runtime's subnets).",
                 validations=(Validation(Op(Call("length", var("client_cidr_blocks")), ">", 0),
                                         "name at least one client network."),)),
    )
    resources = kms_key(f"{engine} data, logs and Performance Insights of {plan.app_name}")
    parameters = (
        [Block({"name": "rds.force_ssl", "value": "1"}),
         Block({"name": "log_min_duration_statement", "value": "500"}),
         Block({"name": "log_statement", "value": "ddl"})]
        if engine == "postgres"
        else [Block({"name": "require_secure_transport", "value": "1"})]
    )
    resources += [
        Resource("aws_db_subnet_group", "this", {
            "name": var("name"),
            "subnet_ids": var("subnet_ids"),
        }),
        Resource("aws_security_group", "this", {
            "name": Template(var("name"), "-db"),
            "description": f"{engine} clients of {plan.app_name}",
            "vpc_id": var("vpc_id"),
            "ingress": [Block({
                "description": f"{engine} from the application",
                "from_port": port,
                "to_port": port,
                "protocol": "tcp",
                "cidr_blocks": var("client_cidr_blocks"),
            })],
        }, note="No egress rule: the database initiates no connections."),
        Resource("aws_db_parameter_group", "this", {
            "name": var("name"),
            "family": PARAMETER_FAMILY[engine],
            "parameter": parameters,
        }, note="TLS is required for every connection; slow statements and schema changes are logged."),
        Resource("aws_iam_role", "monitoring", {
            "name": Template(var("name"), "-rds-monitoring"),
            "assume_role_policy": policy({
                "Effect": "Allow", "Principal": {"Service": "monitoring.rds.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }),
        }),
        Resource("aws_iam_role_policy_attachment", "monitoring", {
            "role": Ref("aws_iam_role", "monitoring", "name"),
            "policy_arn": "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
        }),
        Resource("aws_db_instance", "this", {
            "identifier": var("name"),
            "engine": engine,
            "engine_version": ENGINE_VERSION[engine],
            "instance_class": var("instance_class"),
            "allocated_storage": var("allocated_storage"),
            "max_allocated_storage": Op(var("allocated_storage"), "*", 4),
            "storage_type": "gp3",
            "storage_encrypted": True,
            "kms_key_id": Ref("aws_kms_key", "this", "arn"),
            "db_name": "app",
            "username": "app_admin",
            "manage_master_user_password": True,
            "master_user_secret_kms_key_id": Ref("aws_kms_key", "this", "arn"),
            "multi_az": var("multi_az"),
            "db_subnet_group_name": Ref("aws_db_subnet_group", "this", "name"),
            "vpc_security_group_ids": [Ref("aws_security_group", "this", "id")],
            "parameter_group_name": Ref("aws_db_parameter_group", "this", "name"),
            "publicly_accessible": False,
            "iam_database_authentication_enabled": True,
            "backup_retention_period": var("backup_retention_days"),
            "backup_window": "02:00-03:00",
            "maintenance_window": "sun:04:00-sun:05:00",
            "copy_tags_to_snapshot": True,
            "delete_automated_backups": False,
            "deletion_protection": True,
            "skip_final_snapshot": False,
            "final_snapshot_identifier": Template(var("name"), "-final"),
            "auto_minor_version_upgrade": True,
            "performance_insights_enabled": True,
            "performance_insights_kms_key_id": Ref("aws_kms_key", "this", "arn"),
            "performance_insights_retention_period": 7,
            "monitoring_interval": 60,
            "monitoring_role_arn": Ref("aws_iam_role", "monitoring", "arn"),
            "enabled_cloudwatch_logs_exports": LOG_EXPORTS[engine],
        }, note="Automated backups every day plus transaction logs give point-in-time recovery to any second of\n"
                "the retention window; they outlive the instance (delete_automated_backups = false) and a\n"
                "final snapshot is taken on deletion. The admin password lives in Secrets Manager, rotated by RDS.",
            skips=(("CKV_AWS_157", "Multi-AZ is var.multi_az: on in prod, off in dev and staging to save cost"),)),
    ]
    outputs = (
        Output("endpoint", Ref("aws_db_instance", "this", "address"), "Host name of the database."),
        Output("port", Ref("aws_db_instance", "this", "port"), "Port of the database."),
        Output("admin_secret_arn", Get(Ref("aws_db_instance", "this", "master_user_secret"), 0, "secret_arn"),
               "Secrets Manager secret holding the admin credentials (rotated by RDS)."),
        Output("instance_arn", Ref("aws_db_instance", "this", "arn"), "ARN of the database instance."),
    )
    return Module("database", f"Managed {engine}: RDS, encrypted, backed up with PITR, standby in prod.",
                  variables, tuple(resources), outputs)


def database_args(env: str) -> dict[str, Any]:
    size = DATABASE_SIZES.get(env, DATABASE_SIZES["staging"])
    return {
        "instance_class": size.aws_class,
        "allocated_storage": size.storage_gib,
        "multi_az": size.standby,
        "backup_retention_days": size.backup_retention_days,
    }


# -- runtime -----------------------------------------------------------------------------


def runtime(plan: Plan) -> Module | None:
    target = plan.requirements.target
    if target == "kubernetes":
        return None
    variables: list[Variable] = [
        _name_variable("runtime"),
        Variable("secret_arn", "string", "The application secret the runtime reads at start."),
        Variable("secret_kms_key_arn", "string", "The key that encrypts the application secret."),
    ]
    resources = kms_key(f"Logs of {plan.app_name}", ["logs.amazonaws.com"])
    read_secret = policy(
        {"Sid": "ReadAppSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": var("secret_arn")},
        {"Sid": "DecryptAppSecret", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": var("secret_kms_key_arn")},
    )
    service = {"ecs-fargate": "ecs-tasks.amazonaws.com", "lambda": "lambda.amazonaws.com",
               "app-runner": "tasks.apprunner.amazonaws.com"}[target]
    log_group = {"ecs-fargate": Template("/ecs/", var("name")), "lambda": Template("/aws/lambda/", var("name")),
                 "app-runner": Template("/aws/apprunner/", var("name"))}[target]
    resources.append(Resource("aws_cloudwatch_log_group", "this", {
        "name": log_group,
        "retention_in_days": LOG_RETENTION_DAYS,
        "kms_key_id": Ref("aws_kms_key", "this", "arn"),
    }))
    resources.append(Resource("aws_iam_role", "app", {
        "name": Template(var("name"), "-app"),
        "description": "The identity the application runs as.",
        "assume_role_policy": policy({"Effect": "Allow", "Principal": {"Service": service},
                                      "Action": "sts:AssumeRole"}),
    }))
    resources.append(Resource("aws_iam_role_policy", "app_secret", {
        "name": "read-app-secret", "role": Ref("aws_iam_role", "app", "id"), "policy": read_secret,
    }))
    outputs = [Output("app_role_arn", Ref("aws_iam_role", "app", "arn"), "Role the application runs as."),
               Output("log_group_name", Ref("aws_cloudwatch_log_group", "this", "name"), "Where the logs go.")]
    if target == "ecs-fargate":
        resources.append(Resource("aws_ecs_cluster", "this", {
            "name": var("name"),
            "setting": [Block({"name": "containerInsights", "value": "enabled"})],
        }))
        resources.append(Resource("aws_iam_role", "execution", {
            "name": Template(var("name"), "-execution"),
            "description": "Used by ECS to pull the image, write logs and inject the secret.",
            "assume_role_policy": policy({"Effect": "Allow", "Principal": {"Service": service},
                                          "Action": "sts:AssumeRole"}),
        }))
        resources.append(Resource("aws_iam_role_policy_attachment", "execution", {
            "role": Ref("aws_iam_role", "execution", "name"),
            "policy_arn": "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        }))
        resources.append(Resource("aws_iam_role_policy", "execution_secret", {
            "name": "inject-app-secret", "role": Ref("aws_iam_role", "execution", "id"), "policy": read_secret,
        }))
        outputs += [Output("cluster_arn", Ref("aws_ecs_cluster", "this", "arn"), "The ECS cluster."),
                    Output("execution_role_arn", Ref("aws_iam_role", "execution", "arn"),
                           "Task execution role (image pull, logs, secret injection).")]
    elif target == "lambda":
        resources.append(Resource("aws_iam_role_policy_attachment", "logs", {
            "role": Ref("aws_iam_role", "app", "name"),
            "policy_arn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        }))
    else:
        resources.append(Resource("aws_iam_role", "access", {
            "name": Template(var("name"), "-ecr-access"),
            "description": "Used by App Runner to pull the image from ECR.",
            "assume_role_policy": policy({"Effect": "Allow", "Principal": {"Service": "build.apprunner.amazonaws.com"},
                                          "Action": "sts:AssumeRole"}),
        }))
        resources.append(Resource("aws_iam_role_policy_attachment", "access", {
            "role": Ref("aws_iam_role", "access", "name"),
            "policy_arn": "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess",
        }))
        outputs.append(Output("access_role_arn", Ref("aws_iam_role", "access", "arn"),
                              "Role App Runner pulls images with."))
    return Module("runtime", f"Runtime: what {target} needs around the service the pipeline deploys "
                  "(roles, logs" + (", the cluster" if target == "ecs-fargate" else "") + ").",
                  tuple(variables), tuple(resources), tuple(outputs))


# -- DNS and TLS -------------------------------------------------------------------------


def dns(plan: Plan) -> Module:
    kubernetes = plan.requirements.target == "kubernetes"
    variables = (
        Variable("zone_name", "string", "The Route 53 hosted zone (the domain).",
                 validations=(Validation(Call("can", Call("regex", r"^[a-z0-9.-]+\.[a-z]{2,63}$", var("zone_name"))),
                                         "zone_name must be a domain name."),)),
        Variable("host", "string", "The public host name of this environment."),
        Variable("target_hostname", "string",
                 "Where the host points: the ingress controller's load balancer or the service's own host name."),
    )
    resources: list[Resource] = [
        Resource("aws_route53_zone", "this", {"name": var("zone_name"), "private_zone": False}, data=True),
        Resource("aws_route53_record", "host", {
            "zone_id": Ref("data", "aws_route53_zone", "this", "zone_id"),
            "name": var("host"),
            "type": "CNAME",
            "ttl": 300,
            "records": [var("target_hostname")],
        }),
    ]
    outputs = [Output("fqdn", Ref("aws_route53_record", "host", "fqdn"), "The public host name.")]
    if not kubernetes:
        resources += [
            Resource("aws_acm_certificate", "this", {
                "domain_name": var("host"),
                "validation_method": "DNS",
                "lifecycle": Block({"create_before_destroy": True}),
            }),
            Resource("aws_route53_record", "validation", {
                "zone_id": Ref("data", "aws_route53_zone", "this", "zone_id"),
                "name": Get(Call("one", Ref("aws_acm_certificate", "this", "domain_validation_options")),
                            "resource_record_name"),
                "type": Get(Call("one", Ref("aws_acm_certificate", "this", "domain_validation_options")),
                            "resource_record_type"),
                "ttl": 300,
                "records": [Get(Call("one", Ref("aws_acm_certificate", "this", "domain_validation_options")),
                                "resource_record_value")],
            }),
            Resource("aws_acm_certificate_validation", "this", {
                "certificate_arn": Ref("aws_acm_certificate", "this", "arn"),
                "validation_record_fqdns": [Ref("aws_route53_record", "validation", "fqdn")],
            }),
        ]
        outputs.append(Output("certificate_arn", Ref("aws_acm_certificate_validation", "this", "certificate_arn"),
                              "The validated TLS certificate of the host."))
    purpose = "DNS: the environment's host record" + (
        "; TLS comes from cert-manager in the cluster." if kubernetes else " and its ACM certificate.")
    return Module("dns", purpose, variables, tuple(resources), tuple(outputs))
