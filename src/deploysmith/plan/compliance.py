"""Compliance profiles: the controls each one asks of a deployment, and what in the kit implements them.

A profile is data. Each control names the regulation's own identifier, what the kit does
about it, and evidence: a marker (a line of text the kit renders) and the file it is
rendered in. `render.compliance_docs` finds every marker in the rendered kit and cites its
file and line in docs/deploy/COMPLIANCE.md, so the map is checked against what was written,
not against what this table hopes was written.

SOX does not number IT controls; the ids below ("SOX ITGC-CM-1") are this kit's labels for
the IT general control areas auditors test under SOX 404 (change management, access,
operations), with the record-keeping period of SOX 802.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from deploysmith.model import Requirements

# Evidence paths: "@ci" is the pipeline file of the plan's CI platform; "@codeowners" its
# CODEOWNERS file (GitHub and GitLab only); other paths are fnmatch patterns over the kit.
CI_FILE = "@ci"
CODEOWNERS_FILE = "@codeowners"

# Markers the kit renders; compliance_ci and admission import them so the text stays in one place.
SOD_MARKER = "compliance: separation of duties"
TICKET_MARKER = "compliance: change ticket"
RECORD_MARKER = "compliance: deployment record"
RETENTION_MARKER = "compliance: retention"
DEFAULT_DENY_MARKER = "compliance: default-deny"
CODEOWNERS_MARKER = "compliance: code owners"

# A Jira-style key (OPS-123) or a ServiceNow change number (CHG0012345); organisations set
# CHANGE_TICKET_PATTERN in CI to their own.
TICKET_PATTERN = r"([A-Z][A-Z0-9]+-[0-9]+|CHG[0-9]{7})"
TICKET_TRAILER = "Change-Ticket"


@dataclass(frozen=True)
class Evidence:
    path: str  # CI_FILE, CODEOWNERS_FILE or an fnmatch pattern
    marker: str  # text on the line that implements the control


@dataclass(frozen=True)
class Control:
    id: str  # the regulation's identifier, e.g. "PCI-DSS 6.5.4"
    title: str
    implementation: str  # what the kit does, in words
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Profile:
    name: str  # the requirements value: "sox", "pci-dss", "hipaa"
    title: str
    retention_days: int  # how long deployment records must be kept
    retention_reason: str
    controls: tuple[Control, ...]
    organisation: tuple[str, ...]  # what stays the organisation's job


# -- evidence shared by several profiles ---------------------------------------------------

_SOD = (Evidence(CI_FILE, SOD_MARKER), Evidence(CODEOWNERS_FILE, CODEOWNERS_MARKER))
_TICKET = (Evidence(CI_FILE, TICKET_MARKER),)
_RECORD = (Evidence(CI_FILE, RECORD_MARKER),)
_RETENTION = (Evidence(CI_FILE, RETENTION_MARKER),)
_TLS = (Evidence("deploy/overlays/prod/*.yaml", "tls:"), Evidence("deploy/base/*/ingress.yaml", "cert-manager.io"))
_NETWORK = (Evidence("deploy/policies/prod/networkpolicy-default-deny.yaml", DEFAULT_DENY_MARKER),)
_SIGNED = (Evidence("deploy/policies/prod/*.yaml", "compliance: signed images"),)
_SCANNED = (Evidence("deploy/policies/prod/*.yaml", "compliance: recent vulnerability scan"),)
_NON_ROOT = (Evidence("deploy/base/*/deployment.yaml", "runAsNonRoot: true"),)

_ORGANISATION_COMMON = (
    "Turn on the platform settings the pipeline cannot set itself (listed per CI platform below).",
    "Keep the change tickets themselves (reason, risk, back-out plan) in the ticketing system; "
    "the pipeline only checks that a deploy names one.",
    "Export deployment records and pipeline logs to write-once storage for the full retention period; "
    "CI platforms keep artifacts for less.",
    "Review access to the production environment, the cluster and the registry periodically.",
    "Apply deploy/policies/<env>/ with platform-admin credentials, not the pipeline's.",
)

PROFILES: Mapping[str, Profile] = {
    "sox": Profile(
        "sox",
        "SOX (IT general controls)",
        7 * 365,
        "SOX 802 and SEC rule 2-06 of Regulation S-X: records relevant to the audit are kept seven years",
        (
            Control("SOX ITGC-CM-1", "Changes are authorised before production",
                    "Deploy Prod runs only after the approval gate, and only with a change ticket that "
                    "matches the organisation's pattern", _TICKET),
            Control("SOX ITGC-CM-2", "Segregation of duties: the author cannot approve their own change",
                    "The production deploy fails when its approver is the commit's author; CODEOWNERS "
                    "requires release managers to review deploy/ and CI changes", _SOD),
            Control("SOX ITGC-CM-3", "Only tested, approved builds reach production",
                    "The cluster admits only images signed by this pipeline's identity", _SIGNED),
            Control("SOX ITGC-OP-1", "Deployments leave an audit trail",
                    "Each production deploy writes a deployment record (who, what digest, which ticket, "
                    "when, outcome) kept as a pipeline artifact", _RECORD),
            Control("SOX 802", "Records are retained seven years",
                    "The record's artifact retention is set as long as the platform allows; the rest is "
                    "an export to archival storage", _RETENTION),
        ),
        _ORGANISATION_COMMON,
    ),
    "pci-dss": Profile(
        "pci-dss",
        "PCI-DSS v4.0",
        365,
        "PCI-DSS 10.5.1: audit log history is kept at least 12 months, the last three months "
        "immediately available",
        (
            Control("PCI-DSS 6.5.1", "Changes to production follow change control (reason, approval, testing)",
                    "Deploy Prod runs after the approval gate and only with a change ticket", _TICKET),
            Control("PCI-DSS 6.5.4", "Roles are separated between pre-production and production",
                    "The production deploy fails when its approver is the commit's author; CODEOWNERS "
                    "guards deploy/ and CI changes", _SOD),
            Control("PCI-DSS 6.3.3", "Components are protected from known vulnerabilities",
                    "The cluster requires a signed vulnerability-scan attestation no older than a week",
                    _SCANNED),
            Control("PCI-DSS 6.5.1 (integrity)", "Only the reviewed build runs",
                    "The cluster admits only images signed by this pipeline's identity", _SIGNED),
            Control("PCI-DSS 4.2.1", "Strong cryptography in transit over public networks",
                    "Every ingress host serves TLS with a cert-manager certificate", _TLS),
            Control("PCI-DSS 1.3.1, 1.3.2", "Inbound and outbound traffic restricted to what is necessary",
                    "Each namespace denies all traffic by default; the workloads' own policies open only "
                    "the ingress controller in, and DNS plus named ports out", _NETWORK),
            Control("PCI-DSS 2.2.5, 7.2.2", "Least privilege for system components",
                    "Pods run as a non-root user with every capability dropped", _NON_ROOT),
            Control("PCI-DSS 10.2.1", "Audit logs record changes to system components",
                    "Each production deploy writes a deployment record artifact", _RECORD),
            Control("PCI-DSS 10.5.1", "Audit log history retained 12 months",
                    "Artifact retention set as long as the platform allows; export for the rest", _RETENTION),
        ),
        (*_ORGANISATION_COMMON,
         "Keep the cardholder data environment's scope documented, and segment it from other workloads "
         "at the network and cluster level."),
    ),
    "hipaa": Profile(
        "hipaa",
        "HIPAA Security Rule",
        6 * 365,
        "HIPAA 164.316(b)(2)(i): documentation is kept six years from its creation or last effective date",
        (
            Control("HIPAA 164.312(e)(1)", "Transmission security",
                    "Every ingress host serves TLS; each namespace denies traffic by default", _TLS + _NETWORK),
            Control("HIPAA 164.312(c)(1)", "Integrity: ePHI systems are not altered improperly",
                    "The cluster admits only images signed by this pipeline's identity", _SIGNED),
            Control("HIPAA 164.308(a)(1)(ii)(B)", "Risk management: known vulnerabilities are reduced",
                    "The cluster requires a recent signed vulnerability-scan attestation", _SCANNED),
            Control("HIPAA 164.308(a)(3)(ii)(A)", "Authorisation and supervision of workforce access",
                    "The production deploy fails when its approver is the commit's author; CODEOWNERS "
                    "guards deploy/ and CI changes", _SOD),
            Control("HIPAA 164.312(b)", "Audit controls",
                    "Each production deploy writes a deployment record artifact", _RECORD),
            Control("HIPAA 164.316(b)(1)", "Actions that must be documented have a written record",
                    "Every production deploy names its change ticket", _TICKET),
            Control("HIPAA 164.316(b)(2)(i)", "Documentation retained six years",
                    "Artifact retention set as long as the platform allows; export for the rest", _RETENTION),
        ),
        (*_ORGANISATION_COMMON,
         "Sign business associate agreements with the cloud, CI and registry providers that handle ePHI.",
         "Encrypt ePHI at rest in the database and backups (164.312(a)(2)(iv)); the kit does not provision "
         "storage."),
    ),
}


def profile_of(requirements: Requirements) -> Profile | None:
    return PROFILES.get(requirements.compliance)


def compliance_notes(requirements: Requirements) -> list[str]:
    """What the plan says about a profile: which controls are rendered, what stays manual."""
    profile = profile_of(requirements)
    if profile is None:
        return []
    notes = [
        f"compliance profile {profile.title}: {len(profile.controls)} controls are rendered into the kit "
        "(separation of duties, change tickets, deployment records and their retention, admission policy, "
        "TLS and default-deny networking); docs/deploy/COMPLIANCE.md maps each to the file and line that "
        "implements it"
    ]
    if requirements.fail_on != "medium":
        notes.append(
            f"compliance profile {profile.title} blocks medium vulnerabilities by default; fail_on is "
            f"{requirements.fail_on}, so medium findings ship (say why in the change record)"
        )
    if requirements.admission == "none":
        notes.append(
            f"compliance profile {profile.title} with admission none: the cluster does not refuse unsigned "
            "images, so the signed-image controls are not met by this kit"
        )
    return notes
