"""A light `kustomize build`, so the Kubernetes rules judge what is actually applied.

A kustomize base often leaves out what each overlay patches in (resources, replicas, TLS
hosts), and an overlay's patch files are fragments, not objects. Judging the files one by
one would flag both. Instead, every kustomization that no other one includes (an overlay,
or a base used on its own) is built: its resources (files, and folders with their own
kustomization, recursively), its strategic-merge patches applied in order, its namespace
set. Manifests that no kustomization includes form one more unit. Rules that relate
objects (a Service and its pods, a PDB, an HPA) look inside one unit.

Not modelled: generators, replacements, JSON 6902 patches (their files are still known as
patches, so they are not judged as objects), remote resources, Helm charts.
"""

from __future__ import annotations

import functools
import posixpath
from dataclasses import dataclass, replace
from typing import Any

from deploysmith.audit.parse import K8sObject, YamlError, YMap, load_yaml, pod_template, strategic_merge

KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


@dataclass(frozen=True)
class Kustomization:
    path: str
    doc: YMap

    # The build asks for the folder, resources and patch files of a kustomization again for every
    # overlay that includes it: computed once (the fields never change).
    @functools.cached_property
    def folder(self) -> str:
        return posixpath.dirname(self.path)

    def _resolve(self, entry: Any) -> str | None:
        if not isinstance(entry, str) or "://" in entry or entry.startswith(("github.com/", "git@")):
            return None
        return posixpath.normpath(posixpath.join(self.folder, entry))

    def resources(self) -> list[str]:
        return list(self._resources)

    @functools.cached_property
    def _resources(self) -> tuple[str, ...]:
        entries: list[Any] = []
        for key in ("resources", "bases", "components"):
            value = self.doc.get(key)
            if isinstance(value, list):
                entries.extend(value)
        return tuple(path for path in map(self._resolve, entries) if path is not None)

    def patch_files(self) -> list[str]:
        return list(self._patch_files)

    @functools.cached_property
    def _patch_files(self) -> tuple[str, ...]:
        found: list[Any] = []
        for key in ("patches", "patchesJson6902"):
            found.extend(item.get("path") for item in self.doc.maps(key))
        strategic = self.doc.get("patchesStrategicMerge")
        if isinstance(strategic, list):
            found.extend(item for item in strategic if isinstance(item, str) and "\n" not in item)
        return tuple(path for path in map(self._resolve, found) if path is not None)

    def inline_patches(self) -> list[YMap]:
        texts: list[tuple[str, int]] = [
            (item["patch"], item.value_line("patch")) for item in self.doc.maps("patches")
            if isinstance(item.get("patch"), str)
        ]
        strategic = self.doc.get("patchesStrategicMerge")
        if isinstance(strategic, list):
            texts.extend((item, self.doc.value_line("patchesStrategicMerge")) for item in strategic
                         if isinstance(item, str) and "\n" in item)
        patches: list[YMap] = []
        for text, line in texts:
            try:
                patches.extend(doc for doc in load_yaml(text, self.path, line - 1) if isinstance(doc, YMap))
            except YamlError:
                continue
        return patches

    def images(self) -> set[str]:
        return {str(item["name"]) for item in self.doc.maps("images") if item.get("name")}

    def namespace(self) -> str | None:
        return self.doc.string("namespace")


@dataclass(frozen=True)
class Unit:
    """What one `kustomize build` would apply (label: the kustomization's folder), or the
    manifests no kustomization includes (label None)."""

    label: str | None
    objects: tuple[K8sObject, ...]


def build_units(
    documents: dict[str, list[K8sObject]], kustomizations: list[Kustomization]
) -> tuple[tuple[Unit, ...], frozenset[str]]:
    """The units, and the files that are patches (fragments, not objects)."""
    by_folder = {k.folder: k for k in kustomizations}
    patch_files = frozenset(path for k in kustomizations for path in k.patch_files())
    included = {path for k in kustomizations for path in k.resources() if path in by_folder}
    reached: set[str] = set()
    units: list[Unit] = []
    for kustomization in sorted(kustomizations, key=lambda k: k.path):
        if kustomization.folder in included:
            continue
        objects = _build(kustomization, by_folder, documents, patch_files, reached, frozenset())
        units.append(Unit(kustomization.folder or ".", tuple(objects)))
    loose = tuple(
        obj for path, objects in sorted(documents.items())
        if path not in reached and path not in patch_files for obj in objects
    )
    if loose:
        units.append(Unit(None, loose))
    return tuple(units), patch_files


def _build(
    kustomization: Kustomization,
    by_folder: dict[str, Kustomization],
    documents: dict[str, list[K8sObject]],
    patch_files: frozenset[str],
    reached: set[str],
    seen: frozenset[str],
) -> list[K8sObject]:
    objects: list[K8sObject] = []
    for path in kustomization.resources():
        if path in by_folder and path not in seen:
            objects.extend(_build(by_folder[path], by_folder, documents, patch_files, reached, seen | {path}))
        elif path in documents and path not in patch_files:
            reached.add(path)
            objects.extend(documents[path])
    patches = [doc for path in kustomization.patch_files() for doc in _docs(documents, path)]
    patches.extend(kustomization.inline_patches())
    for patch in patches:
        kind, name = patch.get("kind"), patch.mapping("metadata").get("name")
        for index, obj in enumerate(objects):
            if obj.kind == kind and obj.name == name:
                doc = strategic_merge(obj.doc, patch)
                objects[index] = replace(obj, doc=doc, pod=pod_template(doc, obj.kind))
    namespace = kustomization.namespace()
    if namespace:
        objects = [replace(obj, namespace=namespace) for obj in objects]
    return objects


def _docs(documents: dict[str, list[K8sObject]], path: str) -> list[YMap]:
    return [obj.doc for obj in documents.get(path, [])]
