"""The parsed forms the rules share. Every file is read and parsed once, by the engine.

- Dockerfiles: instructions with their first and last line, continuation lines joined,
  comment lines inside a continuation dropped, BuildKit heredocs attached to their
  instruction, and stages (with the global ARG defaults substituted into FROM).
- YAML: every document of a stream, as dicts and lists that remember the line of each
  key and item (`YMap`, `YSeq`), so a finding points at the line a reviewer must change.
  Nothing is constructed beyond plain data: unknown tags (`!reference`, `!Ref`, …) become
  the plain scalar, list or mapping they tag.
- Kubernetes objects (any document with `apiVersion` and `kind`) with their pod template;
  GitHub Actions workflows with their triggers, jobs and steps.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

import yaml

# -- Dockerfile -------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # after the flags; continuation lines joined by spaces, heredoc bodies appended
    line: int  # 1-based line of the keyword
    end_line: int
    flags: tuple[tuple[str, str], ...] = ()  # ("from", "builder"), ("mount", "type=cache,...")

    def flag(self, name: str) -> str | None:
        return next((value for key, value in self.flags if key == name), None)

    def flag_values(self, name: str) -> tuple[str, ...]:
        return tuple(value for key, value in self.flags if key == name)

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/RUN, None for the shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return None


@dataclass(frozen=True)
class Stage:
    index: int
    base: str  # the FROM image with global ARG defaults substituted
    name: str | None  # the `AS name`, lower case
    line: int
    instructions: tuple[Instruction, ...]  # after the FROM
    parent: int | None  # index of the earlier stage this one is built FROM


@dataclass(frozen=True)
class Dockerfile:
    path: str
    instructions: tuple[Instruction, ...]
    stages: tuple[Stage, ...]

    def final_lineage(self) -> tuple[Stage, ...]:
        """The final stage and the earlier stages it is built FROM, oldest first."""
        return self.lineage(len(self.stages) - 1) if self.stages else ()

    def lineage(self, stage_index: int) -> tuple[Stage, ...]:
        """A stage and the earlier stages it is built FROM, oldest first."""
        chain: list[Stage] = []
        index: int | None = stage_index
        while index is not None and all(stage.index != index for stage in chain):
            stage = self.stages[index]
            chain.append(stage)
            index = stage.parent
        return tuple(reversed(chain))

    def stage_names(self) -> frozenset[str]:
        return frozenset(stage.name for stage in self.stages if stage.name)


_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_FLAG = re.compile(r"--([A-Za-z][A-Za-z0-9-]*)(?:=(\"[^\"]*\"|\S*))?\s*")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def parse_dockerfile(path: str, text: str) -> Dockerfile:
    lines = text.splitlines()
    escape = "\\"
    for raw in lines:  # parser directives come first, before any other line
        match = _DIRECTIVE.match(raw.strip())
        if match is None:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            escape = match.group(2)

    instructions: list[Instruction] = []
    count = len(lines)
    i = 0
    while i < count:
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts: list[str] = []
        current = lines[i].rstrip()
        while current.endswith(escape) and i + 1 < count:
            parts.append(current[: -len(escape)].strip())
            i += 1
            # Comment lines inside a continuation are removed by the builder.
            while i < count and lines[i].strip().startswith("#"):
                i += 1
            if i >= count:
                current = ""
                break
            current = lines[i].rstrip()
        parts.append(current.removesuffix(escape).strip())
        logical = " ".join(part for part in parts if part)
        keyword, _, rest = logical.partition(" ")
        keyword = keyword.upper()
        flags: list[tuple[str, str]] = []
        rest = rest.strip()
        if keyword in ("FROM", "RUN", "COPY", "ADD"):
            while rest.startswith("--"):
                flag = _FLAG.match(rest)
                if flag is None:
                    break
                flags.append((flag.group(1).lower(), (flag.group(2) or "").strip('"')))
                rest = rest[flag.end():]
        if keyword in ("RUN", "COPY", "ADD"):
            bodies: list[str] = []
            for heredoc in _HEREDOC.finditer(rest):
                strip_tabs, word = heredoc.group(1) == "-", heredoc.group(3)
                body: list[str] = []
                while i + 1 < count:
                    i += 1
                    line = lines[i].lstrip("\t") if strip_tabs else lines[i]
                    if line.rstrip() == word:
                        break
                    body.append(lines[i])
                bodies.append("\n".join(body))
            if bodies:
                rest = "\n".join([rest, *bodies])
        instructions.append(Instruction(keyword, rest, start + 1, i + 1, tuple(flags)))
        i += 1
    return Dockerfile(path, tuple(instructions), _stages(instructions))


def _stages(instructions: list[Instruction]) -> tuple[Stage, ...]:
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    current: tuple[Instruction, list[Instruction]] | None = None
    for ins in instructions:
        if ins.keyword == "FROM":
            if current is not None:
                stages.append(_stage(len(stages), current[0], current[1], global_args, stages))
            current = (ins, [])
        elif current is not None:
            current[1].append(ins)
        elif ins.keyword == "ARG":
            for name, value in env_pairs(ins.args):
                global_args[name] = value
    if current is not None:
        stages.append(_stage(len(stages), current[0], current[1], global_args, stages))
    return tuple(stages)


def _stage(
    index: int,
    from_ins: Instruction,
    body: list[Instruction],
    global_args: dict[str, str | None],
    earlier: list[Stage],
) -> Stage:
    words = from_ins.args.split()
    base = substitute(words[0], global_args) if words else ""
    name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
    parent = next((stage.index for stage in earlier if stage.name and stage.name == base.lower()), None)
    return Stage(index, base, name, from_ins.line, tuple(body), parent)


def substitute(value: str, env: dict[str, str | None]) -> str:
    """Expand $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} from `env`; leave unknowns as is."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        current = env.get(name)
        operator, word = match.group(2), match.group(3) or ""
        if operator is None:
            return current if current is not None else match.group(0)
        if operator.endswith("-"):
            return current if current else word
        return word if current else ""

    return _VARIABLE.sub(replace, value)


def env_pairs(args: str) -> list[tuple[str, str | None]]:
    """The NAME=value pairs of an ENV or ARG (value None for `ARG NAME`); the legacy
    `ENV NAME value` form too."""
    text = args.strip()
    if not text:
        return []
    first = text.split(None, 1)
    if "=" not in first[0]:
        if len(first) == 2:  # ENV NAME value with spaces
            return [(first[0], first[1].strip())]
        return [(first[0], None)]
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        words = text.split()
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        name, sep, value = word.partition("=")
        pairs.append((name, value if sep else None))
    return pairs


def split_image(reference: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry port is not a tag."""
    ref = reference.strip()
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:], digest
    return ref, None, digest


# -- YAML with lines ----------------------------------------------------------------------


class YMap(dict[Any, Any]):
    """A YAML mapping that remembers its file and where it starts, and where each key and
    value is. After a kustomize patch some keys come from the patch file (`key_paths`)."""

    line: int
    source: str
    key_lines: dict[Any, int]
    value_lines: dict[Any, int]  # where a value's text starts (next line for `|` and `>`)
    key_paths: dict[Any, str]  # keys whose value came from another file than `source`

    def __init__(self, line: int = 1, source: str = "") -> None:
        super().__init__()
        self.line = line
        self.source = source
        self.key_lines = {}
        self.value_lines = {}
        self.key_paths = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)

    def path_of(self, key: Any) -> str:
        return self.key_paths.get(key, self.source)

    def value_line(self, key: Any) -> int:
        return self.value_lines.get(key, self.line_of(key))

    def mapping(self, key: Any) -> YMap:
        value = self.get(key)
        return value if isinstance(value, YMap) else YMap(self.line_of(key), self.path_of(key))

    def maps(self, key: Any) -> list[YMap]:
        value = self.get(key)
        return [item for item in value if isinstance(item, YMap)] if isinstance(value, list) else []

    def string(self, key: Any) -> str | None:
        value = self.get(key)
        return value if isinstance(value, str) else None


class YSeq(list[Any]):
    line: int
    item_lines: list[int]

    def __init__(self, line: int = 1) -> None:
        super().__init__()
        self.line = line
        self.item_lines = []


_SafeLoader: Any = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
_ScalarNode, _SequenceNode = yaml.ScalarNode, yaml.SequenceNode
_SCALAR_TAG, _SEQUENCE_TAG, _MAPPING_TAG = (
    _SafeLoader.DEFAULT_SCALAR_TAG,
    _SafeLoader.DEFAULT_SEQUENCE_TAG,
    _SafeLoader.DEFAULT_MAPPING_TAG,
)


class _Loader(_SafeLoader):  # type: ignore[misc]
    """The safe loader with PyYAML's resolver cut to what it does here. The composer calls
    resolve, descend_resolver and ascend_resolver for every node, and the general versions
    (written for path resolvers, which the safe loader has none of) cost as much as the
    parsing. The tags are the same: the implicit resolvers for the scalar's first character,
    then the wildcard ones, then the defaults. Nothing in deploysmith adds resolvers."""

    _implicit = _SafeLoader.yaml_implicit_resolvers
    _wildcard = tuple(_implicit.get(None, ()))

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is _ScalarNode:
            if implicit[0]:
                for tag, regexp in self._implicit.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
                for tag, regexp in self._wildcard:
                    if regexp.match(value):
                        return tag
            return _SCALAR_TAG
        return _SEQUENCE_TAG if kind is _SequenceNode else _MAPPING_TAG

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


assert not _Loader.yaml_path_resolvers  # what the no-op descend and ascend rely on

_SCALARS = yaml.constructor.SafeConstructor()  # for its int/float/bool/null/timestamp readers
_CONSTRUCTORS = _SCALARS.yaml_constructors
_STR = "tag:yaml.org,2002:str"
_FLATTENED = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


class _Converter:
    """Plain data from composed nodes; YMap/YSeq remember lines. Aliases share one value
    (memo), so alias bombs cost nothing; unknown tags (`!reference`, `!Ref`, python/...)
    give the plain scalar, list or mapping they tag, never an object."""

    def __init__(self, source: str, offset: int) -> None:
        self.source = source
        self.offset = offset + 1  # marks are 0-based
        self.memo: dict[int, Any] = {}

    def document(self, root: yaml.Node) -> Any:
        # The memo is keyed by node identity, which is only stable while the document's
        # nodes are alive: one memo per document.
        self.memo = {}
        return self.convert(root)

    def convert(self, node: yaml.Node) -> Any:
        # The hot loop of every YAML file: exact type checks (the composer makes only these
        # three node classes) and locals instead of attribute lookups.
        kind = type(node)
        if kind is _ScalarNode:
            tag = node.tag
            if tag == _STR or tag not in _CONSTRUCTORS:
                return node.value
            return _CONSTRUCTORS[tag](_SCALARS, node)
        memo = self.memo
        known = memo.get(id(node))
        if known is not None:
            return known
        offset = self.offset
        convert = self.convert
        if kind is _SequenceNode:
            seq = YSeq(node.start_mark.line + offset)
            memo[id(node)] = seq
            item_lines = seq.item_lines
            for item in node.value:
                seq.append(convert(item))
                item_lines.append(item.start_mark.line + offset)
            return seq
        assert isinstance(node, yaml.MappingNode)
        mapping = YMap(node.start_mark.line + offset, self.source)
        memo[id(node)] = mapping
        for key_node, _ in node.value:
            if key_node.tag in _FLATTENED:  # merge keys (<<) and `=` keys
                _SCALARS.flatten_mapping(node)
                break
        key_lines = mapping.key_lines
        value_lines = mapping.value_lines
        for key_node, value_node in node.value:
            key = convert(key_node)
            if isinstance(key, (list, dict)):
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(None, None, "found unhashable key", mark)
            mapping[key] = convert(value_node)
            key_lines[key] = key_node.start_mark.line + offset
            line = value_node.start_mark.line + offset
            if type(value_node) is _ScalarNode and value_node.style in ("|", ">"):
                line += 1  # a block scalar's text starts on the next line
            value_lines[key] = line
        return mapping


# Strategic-merge keys of the list fields a kustomize patch merges item by item.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "volumeMounts": "mountPath", "ports": "containerPort", "imagePullSecrets": "name",
}


def strategic_merge(base: Any, patch: Any, merge_key: str | None = None) -> Any:
    """A Kubernetes strategic-merge patch, enough for kustomize overlays: maps merge, `null`
    deletes, lists of containers/volumes/env/... merge by their key, `$patch: replace|delete`.
    Neither input is changed; values keep the file and line they came from."""
    if isinstance(base, YMap) and isinstance(patch, YMap):
        if patch.get("$patch") == "replace":
            return patch
        merged = YMap(base.line, base.source)
        merged.update(base)
        merged.key_lines.update(base.key_lines)
        merged.value_lines.update(base.value_lines)
        merged.key_paths.update(base.key_paths)
        for key, value in patch.items():
            if key == "$patch":
                continue
            if value is None:
                merged.pop(key, None)
                continue
            old = merged.get(key)
            if (isinstance(old, YMap) and isinstance(value, YMap)) or (
                isinstance(old, list) and isinstance(value, list)
            ):
                merged[key] = strategic_merge(merged[key], value, MERGE_KEYS.get(str(key)))
                continue
            merged[key] = value
            merged.key_lines[key] = patch.line_of(key)
            merged.value_lines[key] = patch.value_line(key)
            merged.key_paths[key] = patch.path_of(key)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and merge_key is not None:
        items = list(base)
        lines = list(base.item_lines) if isinstance(base, YSeq) else [0] * len(base)
        for number, item in enumerate(patch):
            wanted = item.get(merge_key) if isinstance(item, YMap) else None
            index = next(
                (i for i, old in enumerate(items) if isinstance(old, YMap) and old.get(merge_key) == wanted),
                None,
            ) if wanted is not None else None
            if isinstance(item, YMap) and item.get("$patch") == "delete":
                if index is not None:
                    del items[index], lines[index]
            elif index is not None:
                items[index] = strategic_merge(items[index], item)
            else:
                items.append(item)
                lines.append(patch.item_lines[number] if isinstance(patch, YSeq) else 0)
        seq = YSeq(base.line if isinstance(base, YSeq) else 1)
        seq.extend(items)
        seq.item_lines = lines
        return seq
    return patch


class YamlError(Exception):
    def __init__(self, line: int | None, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def load_yaml(text: str, source: str = "", offset: int = 0) -> list[Any]:
    """Every document of a YAML stream (empty documents dropped), or YamlError. `source` is
    the file the mappings remember; `offset` is added to every line (text embedded in a file)."""
    converter = _Converter(source, offset)
    try:
        documents = [converter.document(node) for node in yaml.compose_all(text, Loader=_Loader)]
        return [doc for doc in documents if doc is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise YamlError(line, f"malformed YAML ({problem})") from None
    except (RecursionError, TypeError, ValueError) as error:
        raise YamlError(None, f"malformed YAML ({type(error).__name__})") from None


# -- Kubernetes ---------------------------------------------------------------------------

# Where each workload kind keeps its pod template.
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "Rollout": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


@dataclass(frozen=True)
class PodTemplate:
    template: YMap  # the template (metadata + spec)
    spec: YMap  # the pod spec
    labels: dict[str, str]
    containers: tuple[YMap, ...]
    init_containers: tuple[YMap, ...]


@dataclass(frozen=True)
class K8sObject:
    path: str
    doc: YMap
    api_version: str
    kind: str
    name: str
    namespace: str | None
    pod: PodTemplate | None

    @property
    def line(self) -> int:
        return self.doc.line

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}" if self.name else self.kind


def k8s_objects(path: str, docs: list[Any]) -> list[K8sObject]:
    objects: list[K8sObject] = []
    for doc in docs:
        if not isinstance(doc, YMap):
            continue
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            continue
        if kind == "List":  # kubectl's `kind: List` wraps items
            objects.extend(k8s_objects(path, doc.maps("items")))
            continue
        metadata = doc.mapping("metadata")
        name = metadata.get("name")
        namespace = metadata.get("namespace")
        objects.append(
            K8sObject(
                path,
                doc,
                api_version,
                kind,
                str(name) if name is not None else "",
                str(namespace) if namespace is not None else None,
                pod_template(doc, kind),
            )
        )
    return objects


def pod_template(doc: YMap, kind: str) -> PodTemplate | None:
    keys = TEMPLATE_PATHS.get(kind)
    if keys is None:
        return None
    spec_of = doc.mapping("spec")
    if kind == "Rollout" and "workloadRef" in spec_of and "template" not in spec_of:
        # Argo Rollouts' workloadRef: the pods come from the referenced Deployment's
        # template, which the workload rules read there; the Rollout has none of its own.
        return None
    node = doc
    for key in keys:
        node = node.mapping(key)
    spec = node.mapping("spec")
    labels = {str(k): _label_text(v) for k, v in node.mapping("metadata").mapping("labels").items()}
    return PodTemplate(node, spec, labels, tuple(spec.maps("containers")), tuple(spec.maps("initContainers")))


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def labels_of(mapping: YMap) -> dict[str, str]:
    return {str(k): _label_text(v) for k, v in mapping.items()}


def selector_matches(selector: YMap, labels: dict[str, str]) -> bool:
    """A Kubernetes LabelSelector (matchLabels + matchExpressions) against pod labels."""
    for key, value in labels_of(selector.mapping("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in selector.maps("matchExpressions"):
        key = str(expression.get("key"))
        operator = expression.get("operator")
        values = {_label_text(v) for v in expression.get("values") or []}
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def same_namespace(a: str | None, b: str | None) -> bool:
    """Unset namespaces are filled in at apply time (kubectl -n, kustomize), so they match any."""
    return a is None or b is None or a == b


# -- GitHub Actions workflows -------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    id: str
    data: YMap
    line: int
    steps: tuple[YMap, ...]

    @property
    def title(self) -> str:
        name = self.data.get("name")
        return f"{self.id} ({name})" if isinstance(name, str) and name != self.id else self.id


@dataclass(frozen=True)
class Workflow:
    path: str
    doc: YMap
    triggers: frozenset[str]
    jobs: tuple[Job, ...]

    @property
    def jobs_line(self) -> int:
        return self.doc.line_of("jobs")


def parse_workflow(path: str, doc: Any) -> Workflow | None:
    if not isinstance(doc, YMap):
        return None
    # YAML 1.1 reads the key `on` as the boolean true.
    on = doc.get("on", doc.get(True))
    triggers: set[str] = set()
    if isinstance(on, str):
        triggers.add(on)
    elif isinstance(on, list):
        triggers.update(str(item) for item in on)
    elif isinstance(on, dict):
        triggers.update(str(key) for key in on)
    jobs_map = doc.mapping("jobs")
    jobs = tuple(
        Job(str(job_id), job, jobs_map.line_of(job_id), tuple(job.maps("steps")))
        for job_id, job in jobs_map.items()
        if isinstance(job, YMap)
    )
    return Workflow(path, doc, frozenset(triggers), jobs)
