"""Helm charts, rendered, so the Kubernetes rules judge what a release would apply.

A chart's templates are Go text templates, not YAML, until Helm renders them. For every
folder with a Chart.yaml, the chart's files (from the set already read, never from disk
again) are packed into an in-memory archive and rendered by Helm's own engine through
helm-python-sdk, offline: once with the chart's defaults and once per `values-<name>.yaml`
beside Chart.yaml (the per-environment files this kit and most teams keep), each render
one unit, like a kustomize build. Findings point at the template file the object came
from, at the template line whose text the rendered line matches (the nearest one above
when the line was produced by an action).

What is never done: running hooks, plugins or post-renderers, fetching dependencies
(`helm dependency build`) or anything else over the network, contacting a cluster
(`lookup` returns nothing). A chart that does not render with its own values is reported
(DS-META-002); subcharts that are declared but not committed unpacked under charts/ are
not rendered, and say so (DS-META-004).

helm-python-sdk is an optional dependency (`pip install 'deploysmith[helm]'`); without it
each chart gets one DS-META-004 finding saying it was not rendered and how to enable it.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from deploysmith.audit.base import Hit
from deploysmith.audit.kustomize import Unit
from deploysmith.audit.parse import K8sObject, YamlError, YMap, YSeq, k8s_objects, load_yaml

CHART_FILE = "Chart.yaml"
ENABLE = "pip install 'deploysmith[helm]' (helm-python-sdk: Helm's engine, no helm binary needed)"
MAX_CHART_BYTES = 4_000_000  # a chart bigger than this is not an application chart: not rendered
MAX_CHART_FILES = 2_000
RELEASE = "audit"  # the release name templates see
_LOOKAHEAD = 400  # template lines searched for a rendered line's text


@dataclass(frozen=True)
class Charts:
    """The units of every chart that rendered, the charts that did not (problems), and the
    charts left unrendered because helm-python-sdk is missing (notices)."""

    units: tuple[Unit, ...] = ()
    problems: tuple[Hit, ...] = ()
    notices: tuple[Hit, ...] = ()


def chart_dirs(paths: Iterable[str]) -> list[str]:
    """Folders holding a Chart.yaml, outside another chart's charts/ (vendored subcharts
    render with their parent)."""
    found = sorted(posixpath.dirname(path) for path in paths if posixpath.basename(path) == CHART_FILE)
    return [folder for folder in found if "/charts/" not in f"/{folder}/"]


def in_chart(path: str, folders: Iterable[str]) -> bool:
    return any(folder == "" or path.startswith(folder + "/") for folder in folders)


def is_template(path: str, folders: Iterable[str]) -> bool:
    """A file Helm renders (under a chart's templates/): not YAML until rendered."""
    return any(path.startswith((folder + "/" if folder else "") + "templates/") for folder in folders)


def render_charts(texts: Mapping[str, str], paths: Iterable[str]) -> Charts:
    folders = chart_dirs(paths)
    if not folders:
        return Charts()
    try:
        import helm_python
    except ImportError:
        return Charts(
            notices=tuple(
                Hit(_join(folder, CHART_FILE), None,
                    f"Helm chart {folder or '.'} was not rendered, so no Kubernetes rule checked its templates; "
                    f"to audit it: {ENABLE}")
                for folder in folders
            )
        )
    units: list[Unit] = []
    problems: list[Hit] = []
    notices: list[Hit] = []
    for folder in folders:
        missing = _missing_dependencies(folder, texts)
        if missing:
            notices.append(
                Hit(_join(folder, CHART_FILE), None,
                    f"subcharts {', '.join(missing)} of Helm chart {folder or '.'} are not vendored under charts/, "
                    "so they were not rendered or checked (the audit never fetches dependencies); "
                    "commit them unpacked to audit them")
            )
        rendered, problem = _render(helm_python, folder, texts)
        units.extend(rendered)
        if problem is not None:
            problems.append(problem)
    return Charts(tuple(units), tuple(problems), tuple(notices))


def _missing_dependencies(folder: str, texts: Mapping[str, str]) -> list[str]:
    """Dependencies Chart.yaml declares that are not unpacked under charts/ (archives are
    binary: they are not in the set the audit reads)."""
    try:
        metadata = yaml.safe_load(texts.get(_join(folder, CHART_FILE), "") or "")
    except yaml.YAMLError:
        return []
    dependencies = metadata.get("dependencies") if isinstance(metadata, dict) else None
    names = [str(d["name"]) for d in dependencies or [] if isinstance(d, dict) and d.get("name")]
    return [name for name in names if _join(folder, f"charts/{name}/{CHART_FILE}") not in texts]


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _chart_files(folder: str, texts: Mapping[str, str]) -> dict[str, str]:
    prefix = folder + "/" if folder else ""
    return {path[len(prefix):]: text for path, text in texts.items() if path.startswith(prefix)}


def _archive(name: str, files: Mapping[str, str]) -> bytes:
    """A .tgz of the chart's files under `<name>/`, regular files only (no links to follow)."""
    import tarfile  # only for charts helm renders: keeps it off every audit's start-up

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _values_files(files: Mapping[str, str]) -> list[str]:
    return sorted(
        path for path in files
        if "/" not in path and path.startswith("values-") and path.endswith((".yaml", ".yml"))
    )


def _render(helm: Any, folder: str, texts: Mapping[str, str]) -> tuple[list[Unit], Hit | None]:
    chart_path = _join(folder, CHART_FILE)
    files = _chart_files(folder, texts)
    if len(files) > MAX_CHART_FILES or sum(len(text) for text in files.values()) > MAX_CHART_BYTES:
        return [], Hit(chart_path, None, f"cannot render: the chart has more than {MAX_CHART_FILES} files or "
                                         f"{MAX_CHART_BYTES // 1_000_000} MB; not an application chart")
    name = posixpath.basename(folder) or "chart"
    units: list[Unit] = []
    try:
        chart = helm.Chart.load_archive(_archive(name, files))
    except helm.HelmError as error:
        return [], Hit(chart_path, None, f"cannot render the Helm chart: {_first_line(error)}")
    with chart:
        for values_path in [None, *_values_files(files)]:
            label = f"{LABEL}{folder or '.'}" + (f" -f {values_path}" if values_path else "")
            values: dict[str, Any] | None = None
            if values_path is not None:
                try:
                    loaded = yaml.safe_load(files[values_path])
                except yaml.YAMLError:
                    return units, Hit(_join(folder, values_path), None, "cannot parse: malformed YAML values")
                values = loaded if isinstance(loaded, dict) else {}
            try:
                manifests = chart.render(values=values, name=RELEASE, namespace="default", is_install=True)
            except helm.HelmError as error:
                where = _join(folder, values_path) if values_path else chart_path
                return units, Hit(where, None, f"cannot render ({label}): {_first_line(error)}")
            units.append(Unit(label, tuple(_objects(folder, name, files, manifests))))
    return units, None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _objects(folder: str, name: str, files: Mapping[str, str], manifests: Mapping[str, str]) -> list[K8sObject]:
    objects: list[K8sObject] = []
    for key, text in sorted(manifests.items()):
        relative = key.split("/", 1)[1] if "/" in key else key
        if not relative.endswith((".yaml", ".yml")) or not text.strip():
            continue
        source = _join(folder, relative)
        try:
            documents = load_yaml(text, source)
        except YamlError:
            continue  # a template that renders to non-YAML fails `helm install` itself; nothing to judge
        lines = _line_map(text, files.get(relative, ""))
        for document in documents:
            _remap(document, lines, {})
        objects.extend(k8s_objects(source, documents))
    return objects


def _line_map(rendered: str, template: str) -> list[int]:
    """For each rendered line (index 0 is line 1), the template line it most likely came from:
    the next template line with the same text, else the last one matched."""
    source = template.split("\n")
    result: list[int] = []
    cursor = 0  # next template line to search from (0-based)
    last = 1
    for line in rendered.split("\n"):
        text = line.rstrip()
        if text:
            for index in range(cursor, min(len(source), cursor + _LOOKAHEAD)):
                if _produces(source[index].rstrip(), text):
                    cursor = index + 1
                    last = index + 1
                    break
        result.append(last)
    return result


def _produces(template: str, text: str) -> bool:
    """The template line reads `text`, or its literal start (before an action) does:
    `  replicas: {{ .Values.replicas }}` produces `  replicas: 2`."""
    if template == text:
        return True
    start = template.find("{{")
    return start > 0 and bool(template[:start].strip()) and text.startswith(template[:start])


def _remap(node: Any, lines: list[int], seen: dict[int, None]) -> None:
    if not isinstance(node, (YMap, YSeq)) or id(node) in seen:
        return
    seen[id(node)] = None

    def to(line: int) -> int:
        return lines[line - 1] if 0 < line <= len(lines) else line

    node.line = to(node.line)
    if isinstance(node, YMap):
        node.key_lines = {key: to(line) for key, line in node.key_lines.items()}
        node.value_lines = {key: to(line) for key, line in node.value_lines.items()}
        for value in node.values():
            _remap(value, lines, seen)
    else:
        node.item_lines = [to(line) for line in node.item_lines]
        for item in node:
            _remap(item, lines, seen)


LABEL = "helm template "  # how chart units are labelled: "helm template <chart> [-f <values file>]"


def is_render_label(label: str) -> bool:
    return label.startswith(LABEL)


def describe_renders(labels: Iterable[str]) -> list[str]:
    """Where a finding holds, chart by chart: "helm template deploy/chart: defaults, values-prod.yaml"."""
    grouped: dict[str, list[str]] = {}
    for label in labels:
        chart, _, values = label.partition(" -f ")
        grouped.setdefault(chart, []).append(values or "defaults")
    return [f"{chart}: {', '.join(values)}" for chart, values in grouped.items()]
