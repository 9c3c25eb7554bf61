"""CloudFormation (AWS only): `infra/cloudformation/shared.yaml` (ECR and the CI identity,
once per account) and `infra/cloudformation/environment.yaml` (secrets, the managed
database, the runtime's roles and logs), deployed once per environment with
`parameters/<env>.json`.

Templates are data emitted by `yamlout`; intrinsic functions are written in their long
form (`Fn::GetAtt`, `Fn::Sub`, `Ref`), which every YAML parser reads without custom tags.
The same resources and settings as the Terraform modules (see `aws`).
"""

from __future__ import annotations

import json
from typing import Any

from deploysmith.model import Plan, RenderedFile
from deploysmith.plan.infra import DATABASE_SIZES, cloud_for, managed_database
from deploysmith.render.common import header
from deploysmith.render.iac import aws, federation
from deploysmith.render.iac.hcl import Ref as HclRef
from deploysmith.render.iac.hcl import Template
from deploysmith.render.iac.naming import Naming
from deploysmith.render.yamlout import dump

DIR = "infra/cloudformation"
FORMAT = "2010-09-09"
# CloudFormation needs a full engine version (the newest minor cfn-lint's RDS data lists);
# Terraform passes the major version and RDS picks the default minor.
ENGINE_VERSION = {"postgres": "17.9", "mysql": "8.4.9"}


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def get_att(resource: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, attribute]}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    if cloud_for(plan.requirements) != "aws":
        return ()
    files = [
        RenderedFile(f"{DIR}/shared.yaml",
                     dump(_shared(plan), header("CloudFormation, shared: registry and CI identity"))),
        RenderedFile(f"{DIR}/environment.yaml",
                     dump(_environment(plan), header("CloudFormation, one stack per environment"))),
    ]
    engine = managed_database(plan)
    for env in plan.environments:
        parameters = {"Environment": env.name}
        if engine:
            size = DATABASE_SIZES.get(env.name, DATABASE_SIZES["staging"])
            parameters.update({
                "DatabaseInstanceClass": size.aws_class,
                "DatabaseStorageGiB": str(size.storage_gib),
                "DatabaseMultiAZ": "true" if size.standby else "false",
                "BackupRetentionDays": str(size.backup_retention_days),
            })
        files.append(RenderedFile(
            f"{DIR}/parameters/{env.name}.json",
            json.dumps([{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
                       indent=2) + "\n",
        ))
    return tuple(files)


def _kms(description: str, services: list[Any] | None = None) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [{
        "Sid": "AccountAdministration", "Effect": "Allow",
        "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
        "Action": "kms:*", "Resource": "*",
    }]
    if services:
        statements.append({
            "Sid": "ServiceUse", "Effect": "Allow", "Principal": {"Service": services},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*", "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
        })
    return {
        "Type": "AWS::KMS::Key",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {"Description": description, "EnableKeyRotation": True, "PendingWindowInDays": 30,
                       "KeyPolicy": policy(*statements)},
    }


def _cfn_value(value: Any) -> Any:
    """A federation value (str, or an hcl Template over module variables) as CloudFormation:
    module variables become parameters of the same name in CamelCase."""
    if isinstance(value, str):
        return value
    if isinstance(value, HclRef):
        return ref(_camel(str(value.parts[1])))
    if isinstance(value, Template):
        text = ""
        for part in value.parts:
            if isinstance(part, str):
                text += part.replace("${", "${!")
            elif isinstance(part, HclRef) and part.parts[0] == "var":
                text += "${" + _camel(str(part.parts[1])) + "}"
            else:
                raise ValueError(f"cannot express {part!r} in CloudFormation")
        return sub(text)
    raise TypeError(type(value).__name__)


def _text(value: Any) -> str:
    """A federation value as text for Fn::Sub: module variables become ${Parameter}."""
    if isinstance(value, str):
        return value.replace("${", "${!")
    if isinstance(value, HclRef):
        return "${" + _camel(str(value.parts[1])) + "}"
    if isinstance(value, Template):
        return "".join(
            part.replace("${", "${!") if isinstance(part, str) else "${" + _camel(str(part.parts[1])) + "}"
            for part in value.parts
        )
    raise TypeError(type(value).__name__)


def _camel(name: str) -> str:
    return "".join(piece.capitalize() for piece in name.split("_"))


def _shared(plan: Plan) -> dict[str, Any]:
    naming = Naming()
    ci = federation.of(plan, "aws")
    parameters: dict[str, Any] = {}
    for variable in ci.variables:
        parameters[_camel(variable.name)] = {"Type": "String", "Description": variable.description}
    slug = federation.repository_slug(plan)
    if "Repository" in parameters and slug:
        parameters["Repository"]["Default"] = slug
    resources: dict[str, Any] = {"RegistryKey": _kms(f"ECR images of {plan.app_name}")}
    repositories = []
    for image in plan.images:
        logical = "Repository" + "".join(piece.capitalize() for piece in naming.local(image.name).split("_"))
        repositories.append(logical)
        resources[logical] = {
            "Type": "AWS::ECR::Repository",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "RepositoryName": f"{plan.app_name}/{image.name}",
                "ImageTagMutability": "IMMUTABLE",
                "ImageScanningConfiguration": {"ScanOnPush": True},
                "EncryptionConfiguration": {"EncryptionType": "KMS", "KmsKey": get_att("RegistryKey", "Arn")},
                "LifecyclePolicy": {"LifecyclePolicyText": json.dumps({"rules": [{
                    "rulePriority": 1, "description": "Keep the newest 100 images.",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 100},
                    "action": {"type": "expire"},
                }]}, sort_keys=True)},
            },
        }
    if ci.issuer is None:
        parameters["CiPrincipalArn"] = {"Type": "String", "Description": "The IAM principal Jenkins agents run as.",
                                        "AllowedPattern": "^arn:aws:iam::.+"}
        trust = {"Effect": "Allow", "Principal": {"AWS": "${CiPrincipalArn}"}, "Action": "sts:AssumeRole"}
    else:
        resources["CiOidcProvider"] = {
            "Type": "AWS::IAM::OIDCProvider",
            "Properties": {"Url": _cfn_value(ci.issuer), "ClientIdList": [_cfn_value(ci.audience)]},
        }
        conditions: dict[str, Any] = {"StringEquals": {_text(ci.claim("aud")): _text(ci.audience)}}
        conditions.setdefault(ci.subject_operator, {})[_text(ci.claim("sub"))] = [
            _text(subject) for subject in ci.push_subjects
        ]
        trust = {
            "Effect": "Allow", "Principal": {"Federated": "${CiOidcProvider}"},
            "Action": "sts:AssumeRoleWithWebIdentity", "Condition": conditions,
        }
    resources["CiPushRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "Assumed by the pipeline's Package stage on the main branch to push images.",
            "MaxSessionDuration": 3600,
            # One Fn::Sub over the whole document: condition keys name the issuer, which may hold
            # a parameter (CircleCI's organization), and a YAML key cannot be an intrinsic function.
            "AssumeRolePolicyDocument": sub(json.dumps(policy(trust), indent=2)),
            "Policies": [{"PolicyName": "push-images", "PolicyDocument": policy(
                {"Sid": "Login", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                {"Sid": "PushToOwnRepositories", "Effect": "Allow", "Action": [
                    "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
                    "ecr:DescribeImages", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
                ], "Resource": [get_att(logical, "Arn") for logical in repositories]},
            )}],
        },
    }
    outputs = {
        "CiPushRoleArn": {"Description": "Role the Package stage assumes (CI variable AWS_ROLE_ARN).",
                          "Value": get_att("CiPushRole", "Arn")},
        **{f"{logical}Uri": {"Description": "Repository URI CI pushes to.", "Value": get_att(logical, "RepositoryUri")}
           for logical in repositories},
    }
    template: dict[str, Any] = {"AWSTemplateFormatVersion": FORMAT,
                                "Description": f"{plan.app_name}: image registry and CI identity ({ci.platform})"}
    if parameters:
        template["Parameters"] = parameters
    template["Resources"] = resources
    template["Outputs"] = outputs
    return template


def _environment(plan: Plan) -> dict[str, Any]:
    engine = managed_database(plan)
    keys = sorted({key for workload in plan.workloads for key in workload.secret_env})
    parameters: dict[str, Any] = {
        "Environment": {"Type": "String", "AllowedValues": list(plan.requirements.environments),
                        "Description": "The environment this stack belongs to."},
    }
    resources: dict[str, Any] = {
        "SecretsKey": _kms(f"Application secrets of {plan.app_name}", ["secretsmanager.amazonaws.com"]),
        "AppSecret": {
            "Type": "AWS::SecretsManager::Secret",
            "Metadata": {"checkov": {"skip": [{"id": "CKV2_AWS_57",
                                               "comment": "application keys are rotated by the team; "
                                                   "the database password is rotated by RDS"}]}},
            "Properties": {
                "Name": sub(f"{plan.app_name}-${{Environment}}/app"),
                "Description": "Application settings read at start: " + (", ".join(keys) or "none yet") + ".",
                "KmsKeyId": get_att("SecretsKey", "Arn"),
            },
        },
    }
    outputs: dict[str, Any] = {"AppSecretArn": {"Description": "ARN of the application secret.",
                                                "Value": ref("AppSecret")}}
    conditions: dict[str, Any] = {}
    if engine:
        parameters.update({
            "DatabaseInstanceClass": {"Type": "String", "AllowedPattern": "^db\\..+",
                                      "Description": "RDS instance class."},
            "DatabaseStorageGiB": {"Type": "Number", "MinValue": 20, "Description": "Initial storage in GiB."},
            "DatabaseMultiAZ": {"Type": "String", "AllowedValues": ["true", "false"],
                                "Description": "A synchronous standby in a second availability zone (prod)."},
            "BackupRetentionDays": {"Type": "Number", "MinValue": 1, "MaxValue": 35,
                                    "Description": "Days of automated backups: the point-in-time recovery window."},
            "VpcId": {"Type": "AWS::EC2::VPC::Id", "Description": "VPC the database lives in."},
            "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>",
                          "Description": "Private subnets in at least two availability zones."},
            "ClientCidr": {"Type": "String", "AllowedPattern": "^[0-9./]+$",
                           "Description": "Network allowed to connect (the cluster's pod or node range)."},
        })
        conditions["MultiAZ"] = {"Fn::Equals": [ref("DatabaseMultiAZ"), "true"]}
        port = aws.DB_PORT[engine]
        parameters_group = (
            {"rds.force_ssl": "1", "log_min_duration_statement": "500", "log_statement": "ddl"}
            if engine == "postgres" else {"require_secure_transport": "1"}
        )
        resources.update({
            "DatabaseKey": _kms(f"{engine} data and Performance Insights of {plan.app_name}"),
            "DatabaseSubnets": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
                "DBSubnetGroupDescription": sub(f"{plan.app_name}-${{Environment}} database subnets"),
                "SubnetIds": ref("SubnetIds"),
            }},
            "DatabaseSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupDescription": f"{engine} clients of {plan.app_name}",
                "VpcId": ref("VpcId"),
                "SecurityGroupIngress": [{"Description": f"{engine} from the application", "IpProtocol": "tcp",
                                          "FromPort": port, "ToPort": port, "CidrIp": ref("ClientCidr")}],
            }},
            "DatabaseParameters": {"Type": "AWS::RDS::DBParameterGroup", "Properties": {
                "Description": "TLS required; slow statements and schema changes logged.",
                "Family": aws.PARAMETER_FAMILY[engine],
                "Parameters": parameters_group,
            }},
            "DatabaseMonitoringRole": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": policy({"Effect": "Allow",
                                                    "Principal": {"Service": "monitoring.rds.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}),
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"],
            }},
            "Database": {
                "Type": "AWS::RDS::DBInstance",
                "DeletionPolicy": "Snapshot",
                "UpdateReplacePolicy": "Snapshot",
                "Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_157", "comment": "Multi-AZ is the DatabaseMultiAZ "
                                                   "parameter: on in prod, off in dev and staging to save cost"}]}},
                "Properties": {
                    "Engine": engine,
                    "EngineVersion": ENGINE_VERSION[engine],
                    "DBInstanceClass": ref("DatabaseInstanceClass"),
                    "AllocatedStorage": ref("DatabaseStorageGiB"),
                    "StorageType": "gp3",
                    "StorageEncrypted": True,
                    "KmsKeyId": get_att("DatabaseKey", "Arn"),
                    "DBName": "app",
                    "MasterUsername": "app_admin",
                    "ManageMasterUserPassword": True,
                    "MasterUserSecret": {"KmsKeyId": get_att("DatabaseKey", "Arn")},
                    "MultiAZ": {"Fn::If": ["MultiAZ", True, False]},
                    "DBSubnetGroupName": ref("DatabaseSubnets"),
                    "VPCSecurityGroups": [get_att("DatabaseSecurityGroup", "GroupId")],
                    "DBParameterGroupName": ref("DatabaseParameters"),
                    "PubliclyAccessible": False,
                    "EnableIAMDatabaseAuthentication": True,
                    "BackupRetentionPeriod": ref("BackupRetentionDays"),
                    "PreferredBackupWindow": "02:00-03:00",
                    "PreferredMaintenanceWindow": "sun:04:00-sun:05:00",
                    "CopyTagsToSnapshot": True,
                    "DeleteAutomatedBackups": False,
                    "DeletionProtection": True,
                    "AutoMinorVersionUpgrade": True,
                    "EnablePerformanceInsights": True,
                    "PerformanceInsightsKMSKeyId": get_att("DatabaseKey", "Arn"),
                    "PerformanceInsightsRetentionPeriod": 7,
                    "MonitoringInterval": 60,
                    "MonitoringRoleArn": get_att("DatabaseMonitoringRole", "Arn"),
                    "EnableCloudwatchLogsExports": aws.LOG_EXPORTS[engine],
                },
            },
        })
        outputs["DatabaseEndpoint"] = {"Description": "Host name of the database.",
                                       "Value": get_att("Database", "Endpoint.Address")}
        outputs["DatabaseAdminSecretArn"] = {"Description": "Admin credentials, rotated by RDS.",
                                             "Value": get_att("Database", "MasterUserSecret.SecretArn")}
    if plan.requirements.target == "ecs-fargate":
        resources.update({
            "LogsKey": _kms(f"Logs of {plan.app_name}", [sub("logs.${AWS::Region}.amazonaws.com")]),
            "LogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                         "Properties": {"LogGroupName": sub(f"/ecs/{plan.app_name}-${{Environment}}"),
                                        "RetentionInDays": aws.LOG_RETENTION_DAYS,
                                        "KmsKeyId": get_att("LogsKey", "Arn")}},
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {
                "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}},
            "ExecutionRole": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": policy({"Effect": "Allow",
                                                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}),
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"],
                "Policies": [{"PolicyName": "inject-app-secret", "PolicyDocument": policy(
                    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": ref("AppSecret")},
                    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": get_att("SecretsKey", "Arn")},
                )}],
            }},
        })
        outputs["ClusterArn"] = {"Description": "The ECS cluster.", "Value": get_att("Cluster", "Arn")}
        outputs["ExecutionRoleArn"] = {"Description": "Task execution role.", "Value": get_att("ExecutionRole", "Arn")}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": FORMAT,
        "Description": f"{plan.app_name}: one environment (secrets"
                       + (f", managed {engine}" if engine else "")
                       + (", ECS cluster" if plan.requirements.target == "ecs-fargate" else "") + ")",
        "Parameters": parameters,
    }
    if conditions:
        template["Conditions"] = conditions
    template["Resources"] = resources
    template["Outputs"] = outputs
    return template
