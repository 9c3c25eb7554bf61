"""Compliance profiles as data: the controls each promises, and what the plan says about them."""

from __future__ import annotations

from deploysmith.model import Requirements
from deploysmith.plan.compliance import PROFILES, compliance_notes


def test_profiles_cite_their_regulations() -> None:
    assert [c.id for c in PROFILES["sox"].controls] == [
        "SOX ITGC-CM-1", "SOX ITGC-CM-2", "SOX ITGC-CM-3", "SOX ITGC-OP-1", "SOX 802",
    ]
    assert [c.id for c in PROFILES["pci-dss"].controls] == [
        "PCI-DSS 6.5.1", "PCI-DSS 6.5.4", "PCI-DSS 6.3.3", "PCI-DSS 6.5.1 (integrity)", "PCI-DSS 4.2.1",
        "PCI-DSS 1.3.1, 1.3.2", "PCI-DSS 2.2.5, 7.2.2", "PCI-DSS 10.2.1", "PCI-DSS 10.5.1",
    ]
    assert [c.id for c in PROFILES["hipaa"].controls] == [
        "HIPAA 164.312(e)(1)", "HIPAA 164.312(c)(1)", "HIPAA 164.308(a)(1)(ii)(B)", "HIPAA 164.308(a)(3)(ii)(A)",
        "HIPAA 164.312(b)", "HIPAA 164.316(b)(1)", "HIPAA 164.316(b)(2)(i)",
    ]
    assert {name: p.retention_days for name, p in PROFILES.items()} == {"sox": 2555, "pci-dss": 365, "hipaa": 2190}


def test_notes() -> None:
    assert compliance_notes(Requirements()) == []
    assert compliance_notes(Requirements(compliance="hipaa", fail_on="critical", admission="none")) == [
        "compliance profile HIPAA Security Rule: 7 controls are rendered into the kit (separation of duties, "
        "change tickets, deployment records and their retention, admission policy, TLS and default-deny "
        "networking); docs/deploy/COMPLIANCE.md maps each to the file and line that implements it",
        "compliance profile HIPAA Security Rule blocks medium vulnerabilities by default; fail_on is critical, "
        "so medium findings ship (say why in the change record)",
        "compliance profile HIPAA Security Rule with admission none: the cluster does not refuse unsigned "
        "images, so the signed-image controls are not met by this kit",
    ]
