"""The infrastructure as data: modules (one per concern) of resources, and the root
configurations that call them. Terraform and Pulumi are both rendered from it, so the two
describe the same resources; values use the expression types of `hcl`.

A module's resources refer to each other (`Ref("aws_kms_key", "this", "arn")`) and to the
module's inputs (`Ref("var", "name")`); a root passes values or other modules' outputs
(`Ref("module", "registry", "repository_arns")`) into each module call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REQUIRED: Any = object()  # a variable without a default


@dataclass(frozen=True)
class Resource:
    type: str  # the Terraform type, e.g. "aws_db_instance"
    name: str
    args: Mapping[str, Any]
    data: bool = False  # a data source rather than a managed resource
    note: str | None = None  # why it exists or is set this way
    # checkov checks that do not apply, each with the reason (rendered as skip comments).
    skips: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Validation:
    condition: Any  # an hcl expression over var.<name>
    message: str


@dataclass(frozen=True)
class Variable:
    name: str
    type: str  # an HCL type constraint: string, number, bool, list(string), map(string)
    description: str
    default: Any = REQUIRED
    validations: tuple[Validation, ...] = ()
    sensitive: bool = False


@dataclass(frozen=True)
class Output:
    name: str
    value: Any
    description: str
    sensitive: bool = False


@dataclass(frozen=True)
class Module:
    name: str  # the folder under modules/ and the module call's name
    purpose: str
    variables: tuple[Variable, ...]
    resources: tuple[Resource, ...]
    outputs: tuple[Output, ...]


@dataclass(frozen=True)
class Call:
    module: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class Root:
    """A root configuration: envs/shared (registry and CI identity, once per account) or
    envs/<env> (what each environment owns)."""

    name: str
    variables: tuple[Variable, ...]
    calls: tuple[Call, ...]
    outputs: tuple[Output, ...]
    tfvars: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Backend:
    type: str  # "s3" | "gcs" | "azurerm"
    settings: Mapping[str, Any]  # declared in the backend block
    partial: Mapping[str, Any]  # backend.hcl: what differs per account, passed at `terraform init`
    why: str


@dataclass(frozen=True)
class Provider:
    name: str  # "aws" | "google" | "azurerm"
    source: str
    version: str  # pinned constraint for roots
    minimum: str  # lowest version modules accept
    config: Mapping[str, Any]  # the provider block of a root (may refer to root variables)
    pulumi_package: str  # the Pulumi package with the same resources (bridged from the provider)
    pulumi_version: str


@dataclass(frozen=True)
class Infra:
    cloud: str
    provider: Provider
    backend: Backend
    modules: tuple[Module, ...]
    roots: tuple[Root, ...]
    notes: tuple[str, ...]  # what is left out, and why

    def module(self, name: str) -> Module:
        return next(module for module in self.modules if module.name == name)
