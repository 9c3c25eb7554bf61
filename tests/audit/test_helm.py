"""Helm charts in the audit: rendered by Helm's engine (helm-python-sdk), once per values file,
judged by the Kubernetes rules, findings on the template lines; charts that cannot be rendered
say so (DS-META-002, DS-META-004)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deploysmith.audit import audit_files, audit_repo
from deploysmith.audit.helm import _line_map
from deploysmith.model import Finding, RenderedFile
from deploysmith.repo import Repo

pytest.importorskip("helm_python")

CHART = "apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: '1.2.3'\n"
HELPERS = '{{- define "shop.labels" -}}\napp.kubernetes.io/name: {{ .Chart.Name }}\n{{- end }}\n'
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    {{- include "shop.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      {{- include "shop.labels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "shop.labels" . | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: web
          image: "ghcr.io/acme/shop:{{ .Chart.AppVersion }}"
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            allowPrivilegeEscalation: {{ .Values.escalate }}
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
"""
VALUES = "replicas: 1\nescalate: false\nresources:\n  requests: {cpu: 100m, memory: 128Mi}\n  limits: {memory: 128Mi}\n"


def chart(**extra: str) -> dict[str, str]:
    files = {
        "deploy/chart/Chart.yaml": CHART,
        "deploy/chart/values.yaml": VALUES,
        "deploy/chart/templates/_helpers.tpl": HELPERS,
        "deploy/chart/templates/deployment.yaml": DEPLOYMENT,
    }
    files.update({f"deploy/chart/{path}": text for path, text in extra.items()})
    return files


def audit(files: dict[str, str]) -> list[Finding]:
    return list(audit_files([RenderedFile(path, text) for path, text in files.items()], mode="verify"))


def rules(findings: list[Finding]) -> list[tuple[str, str, int | None]]:
    return [(f.rule, f.path, f.line) for f in findings]


def test_a_clean_chart_has_no_findings() -> None:
    assert audit(chart()) == []


def test_findings_point_at_the_template_line_and_name_the_values_file() -> None:
    findings = audit(chart(**{"values-prod.yaml": "escalate: true\n"}))
    assert rules(findings) == [("DS-K8S-004", "deploy/chart/templates/deployment.yaml", 31)]
    assert DEPLOYMENT.splitlines()[31 - 1].strip() == "allowPrivilegeEscalation: {{ .Values.escalate }}"
    assert "(helm template deploy/chart: values-prod.yaml)" in findings[0].message


def test_a_rule_that_relates_objects_sees_one_render() -> None:
    # Two replicas and no PodDisruptionBudget: a finding only for the render with 2 replicas.
    findings = audit(chart(**{"values-prod.yaml": "replicas: 2\n"}))
    assert [(f.rule, f.path) for f in findings] == [("DS-K8S-010", "deploy/chart/templates/deployment.yaml")]
    assert "values-prod.yaml" in findings[0].message and "defaults" not in findings[0].message


def test_a_chart_that_does_not_render_is_reported() -> None:
    files = chart()
    files["deploy/chart/templates/deployment.yaml"] = DEPLOYMENT.replace(
        "{{ .Values.replicas }}", '{{ required "set replicas" .Values.count }}'
    )
    assert [(f.rule, f.path) for f in audit(files)] == [("DS-META-002", "deploy/chart/Chart.yaml")]


def test_a_values_file_the_schema_rejects_is_reported_on_that_file() -> None:
    schema = '{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", ' \
             '"properties": {"replicas": {"type": "integer", "minimum": 1}}}'
    findings = audit(chart(**{"values.schema.json": schema, "values-prod.yaml": "replicas: 0\n"}))
    assert [(f.rule, f.path) for f in findings] == [("DS-META-002", "deploy/chart/values-prod.yaml")]


def test_subcharts_that_are_not_vendored_are_named() -> None:
    chart_yaml = CHART + "dependencies:\n  - name: postgresql\n    version: 16.0.0\n    repository: oci://example.org/charts\n"
    files = chart()
    files["deploy/chart/Chart.yaml"] = chart_yaml
    findings = audit(files)
    assert [(f.rule, f.severity, f.path) for f in findings] == [("DS-META-004", "info", "deploy/chart/Chart.yaml")]
    assert "postgresql" in findings[0].message


def test_without_helm_python_sdk_the_chart_is_named_not_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "helm_python", None)  # import fails as if not installed
    findings = audit(chart(**{"values-prod.yaml": "escalate: true\n"}))
    assert [(f.rule, f.severity, f.path) for f in findings] == [("DS-META-004", "info", "deploy/chart/Chart.yaml")]
    assert "pip install 'deploysmith[helm]'" in findings[0].message


def test_a_repository_audit_reads_helpers_and_values(tmp_path: Path) -> None:
    for path, text in chart(**{"values-prod.yaml": "escalate: true\n"}).items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (tmp_path / "docs/deploy").mkdir(parents=True)
    (tmp_path / "docs/deploy/RUNBOOK.md").write_text("# Runbook\n\n## Roll back\n\nhelm rollback shop\n")
    findings = audit_repo(Repo.open(tmp_path))
    assert ("DS-K8S-004", "deploy/chart/templates/deployment.yaml", 31) in rules(list(findings))


def test_rendered_lines_map_to_the_template_lines_they_came_from() -> None:
    template = "a: 1\n{{- if .x }}\nb: {{ .y }}\n{{- end }}\nc: 3\n"
    assert _line_map("a: 1\nb: 2\nc: 3\n", template) == [1, 3, 5, 5]
