"""Jenkins: a Jenkinsfile (declarative, and scripted `node { stage(...) }`) as one Pipeline.

The file is Groovy; it is never executed or evaluated. A tokenizer reads it (comments,
the five string forms with their `${...}` interpolations, slashy strings where an operand
is expected, brackets) and a block parser turns it into statements: a call name, its
argument tokens and the `{ }` blocks it opens. The declarative sections (`stages`,
`stage('x')`, `steps`, `parallel`, `input`, `options { timeout }`, `post { failure }`,
`agent { docker }`, `environment { X = credentials(...) }`) are read from that tree.
A file that does not tokenize (an unterminated string or comment, unbalanced brackets)
is a parse problem, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from deploysmith.audit.ci.model import Condition, Job, Pipeline, Reference, Step

# -- tokens -------------------------------------------------------------------------------------


class JenkinsError(Exception):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Interpolation:
    expression: str  # what is inside ${...}, or the dotted name after $
    line: int


@dataclass(frozen=True)
class Token:
    kind: str  # name, string, number, op, newline
    value: str  # for strings: the content between the quotes, escapes kept as written
    line: int
    start: int  # offset in the file
    end: int
    quote: str = ""  # ', ", ''', """, /, $/ for strings
    interpolations: tuple[Interpolation, ...] = ()

    @property
    def gstring(self) -> bool:
        """A string Groovy interpolates before anything else sees it."""
        return self.quote in ('"', '"""', "/", "$/") and bool(self.interpolations)


_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?[a-zA-Z]?")
_OPERAND_BEFORE = frozenset({"(", "[", ",", "=", ":", "{", "!", "&", "|", "?", "~", "return", "+", "-"})
_DOLLAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, line, n = 0, 1, len(text)
    if text.startswith("#!"):  # a shebang line
        i = text.find("\n") if "\n" in text else n
    while i < n:
        ch = text[i]
        if ch == "\n":
            tokens.append(Token("newline", "\n", line, i, i + 1))
            line += 1
            i += 1
            continue
        if ch in " \t\r\f" or (ch == "\\" and text.startswith("\\\n", i)):
            if ch == "\\":
                line += 1
                i += 2
            else:
                i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise JenkinsError(line, "unterminated /* comment")
            line += text.count("\n", i, end)
            i = end + 2
            continue
        for quote in ('"""', "'''", '"', "'"):
            if text.startswith(quote, i):
                token, i, line = _string(text, i, line, quote)
                tokens.append(token)
                break
        else:
            previous = _last_significant(tokens)
            operand_expected = (
                previous is None
                or previous.kind == "newline"
                or (previous.kind in ("op", "name") and previous.value in _OPERAND_BEFORE)
            )
            if text.startswith("$/", i):
                token, i, line = _delimited(text, i, line, "$/", "/$")
                tokens.append(token)
            elif ch == "/" and operand_expected and not text.startswith("/ ", i):
                token, i, line = _delimited(text, i, line, "/", "/")
                tokens.append(token)
            elif match := _NAME.match(text, i):
                tokens.append(Token("name", match.group(0), line, i, match.end()))
                i = match.end()
            elif match := _NUMBER.match(text, i):
                tokens.append(Token("number", match.group(0), line, i, match.end()))
                i = match.end()
            else:
                tokens.append(Token("op", ch, line, i, i + 1))
                i += 1
    return tokens


def _last_significant(tokens: list[Token]) -> Token | None:
    return tokens[-1] if tokens else None


def _string(text: str, start: int, line: int, quote: str) -> tuple[Token, int, int]:
    i = start + len(quote)
    n = len(text)
    first_line = line
    interpolate = quote.startswith('"')
    parts: list[Interpolation] = []
    while i < n:
        if text.startswith(quote, i):
            value = text[start + len(quote) : i]
            return (
                Token("string", value, first_line, start, i + len(quote), quote, tuple(parts)),
                i + len(quote),
                line,
            )
        ch = text[i]
        if ch == "\\":
            if i + 1 < n and text[i + 1] == "\n":
                line += 1
            i += 2
            continue
        if ch == "\n":
            if len(quote) == 1:
                raise JenkinsError(first_line, f"unterminated {quote} string")
            line += 1
        if interpolate and ch == "$":
            found, i, line = _interpolation(text, i, line)
            if found is not None:
                parts.append(found)
            continue
        i += 1
    raise JenkinsError(first_line, f"unterminated {quote} string")


def _interpolation(text: str, i: int, line: int) -> tuple[Interpolation | None, int, int]:
    """`${ expression }` or `$name.field` at text[i] == "$"."""
    if text.startswith("${", i):
        depth, j = 1, i + 2
        start_line = line
        while j < len(text) and depth:
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
            elif text[j] == "\n":
                line += 1
            j += 1
        if depth:
            raise JenkinsError(start_line, "unterminated ${ in a string")
        return Interpolation(text[i + 2 : j - 1].strip(), start_line), j, line
    match = _DOLLAR_NAME.match(text, i + 1)
    if match is None:
        return None, i + 1, line
    return Interpolation(match.group(0), line), match.end(), line


def _delimited(text: str, start: int, line: int, opening: str, closing: str) -> tuple[Token, int, int]:
    i = start + len(opening)
    first_line = line
    parts: list[Interpolation] = []
    while i < len(text):
        if text.startswith(closing, i):
            value = text[start + len(opening) : i]
            return (
                Token("string", value, first_line, start, i + len(closing), opening, tuple(parts)),
                i + len(closing),
                line,
            )
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] == "/":
            i += 2
            continue
        if ch == "\n":
            line += 1
        if ch == "$" and not text.startswith(closing, i):
            found, i, line = _interpolation(text, i, line)
            if found is not None:
                parts.append(found)
            continue
        i += 1
    raise JenkinsError(first_line, f"unterminated {opening} string")


# -- statements -----------------------------------------------------------------------------------


@dataclass
class Node:
    """One statement: `name args { block }`. `inner` holds closures passed inside the
    arguments (`parallel(a: { ... })`)."""

    name: str
    line: int
    tokens: list[Token]
    block: list[Node] | None = None
    inner: list[list[Node]] = field(default_factory=list)
    source: str = ""  # the statement's text up to its block

    def strings(self) -> list[Token]:
        return [t for t in self.tokens if t.kind == "string"]

    def first_string(self) -> Token | None:
        return next(iter(self.strings()), None)

    def named(self, key: str) -> Token | None:
        """The token after `key:` in the arguments."""
        for index, token in enumerate(self.tokens[:-2]):
            if token.kind == "name" and token.value == key and self.tokens[index + 1].value == ":":
                return self.tokens[index + 2]
        return None

    def children(self, name: str) -> list[Node]:
        return [node for node in self.block or [] if node.name == name]

    def child(self, name: str) -> Node | None:
        return next(iter(self.children(name)), None)

    def walk(self) -> Iterator[Node]:
        yield self
        for node in self.block or []:
            yield from node.walk()
        for block in self.inner:
            for node in block:
                yield from node.walk()


_CONTINUES = frozenset({",", "+", "-", "*", "=", "&", "|", ".", "?", ":", "(", "[", "<", ">", "!", "~"})


def parse(text: str) -> list[Node]:
    tokens = tokenize(text)
    nodes, index = _block(tokens, 0, text, top=True)
    if index < len(tokens):
        raise JenkinsError(tokens[index].line, "unbalanced }")
    return nodes


def _block(tokens: list[Token], i: int, text: str, top: bool = False) -> tuple[list[Node], int]:
    nodes: list[Node] = []
    n = len(tokens)
    while i < n:
        token = tokens[i]
        if token.kind == "newline" or token.value == ";":
            i += 1
            continue
        if token.value == "}":
            if top:
                raise JenkinsError(token.line, "unbalanced }")
            return nodes, i
        node, i = _statement(tokens, i, text)
        nodes.append(node)
    if not top:
        last = tokens[-1].line if tokens else 1
        raise JenkinsError(last, "unbalanced {: a block is not closed")
    return nodes, i


def _statement(tokens: list[Token], i: int, text: str) -> tuple[Node, int]:
    start = tokens[i]
    collected: list[Token] = []
    inner: list[list[Node]] = []
    depth: list[str] = []
    n = len(tokens)
    while i < n:
        token = tokens[i]
        if token.kind == "newline" and not depth:
            last = next((t for t in reversed(collected)), None)
            ahead = next((t for t in tokens[i + 1 :] if t.kind != "newline"), None)
            if (last is not None and last.kind == "op" and last.value in _CONTINUES) or (
                ahead is not None
                and ahead.kind == "op"
                and ahead.value in (".", "?", ":", "{")
                and last is not None
            ):
                i += 1
                continue
            break
        if token.kind == "newline":
            i += 1
            continue
        if token.value == ";" and not depth:
            break
        if token.kind == "op" and token.value in "([":
            depth.append(")" if token.value == "(" else "]")
        elif token.kind == "op" and token.value in ")]":
            if not depth or depth[-1] != token.value:
                raise JenkinsError(token.line, f"unbalanced {token.value}")
            depth.pop()
        elif token.kind == "op" and token.value == "{":
            block, i = _block(tokens, i + 1, text)
            if i >= n or tokens[i].value != "}":
                raise JenkinsError(token.line, "unbalanced {: a block is not closed")
            i += 1
            if depth:
                inner.append(block)
                collected.append(Token("op", "{}", token.line, token.start, tokens[i - 1].end))
                continue
            source = text[start.start : token.start].strip()
            return Node(_name(collected), start.line, collected, block, inner, source), i
        elif token.value == "}":
            if depth:
                raise JenkinsError(token.line, f"unbalanced }} inside {'(' if depth[-1] == ')' else '['}")
            break
        collected.append(token)
        i += 1
    if depth:
        raise JenkinsError(start.line, "unbalanced ( or [: not closed")
    end = collected[-1].end if collected else start.end
    return Node(_name(collected), start.line, collected, None, inner, text[start.start : end].strip()), i


def _name(tokens: list[Token]) -> str:
    """`sh`, `stage`, `docker.image`, `@Library` — the call a statement starts with."""
    parts: list[str] = []
    index = 0
    if tokens and tokens[0].value == "@" and len(tokens) > 1:
        return "@" + tokens[1].value
    while index < len(tokens) and tokens[index].kind == "name":
        parts.append(tokens[index].value)
        if index + 1 < len(tokens) and tokens[index + 1].value == "." and index + 2 < len(tokens):
            index += 2
            continue
        break
    return ".".join(parts)


# -- the pipeline ----------------------------------------------------------------------------------

SCRIPT_STEPS = frozenset({"sh", "bat", "powershell", "pwsh"})
_BRANCH_VERSIONS = frozenset({"main", "master", "develop", "dev", "trunk", "head", "latest"})
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ScriptCall:
    """An `sh`/`bat`/`powershell` step: its script string token(s)."""

    node: Node
    script: Token | None


def script_calls(nodes: list[Node]) -> Iterator[ScriptCall]:
    for top in nodes:
        for node in top.walk():
            if node.name in SCRIPT_STEPS:
                named = node.named("script")
                token = named if named is not None and named.kind == "string" else node.first_string()
                yield ScriptCall(node, token)


def string_lines(token: Token) -> list[tuple[int, str]]:
    value = token.value
    lines = value.split("\n")
    if len(token.quote) == 3 and lines and not lines[0].strip():
        return [(token.line + offset, text) for offset, text in enumerate(lines) if offset or text.strip()]
    return [(token.line + offset, text) for offset, text in enumerate(lines)]


def credential_variables(nodes: list[Node]) -> frozenset[str]:
    """Variables that hold credentials: `X = credentials('id')` (also X_USR and X_PSW) and
    the variables of withCredentials bindings."""
    names: set[str] = set()
    for top in nodes:
        for node in top.walk():
            tokens = node.tokens
            if (
                len(tokens) >= 3
                and tokens[0].kind == "name"
                and tokens[1].value == "="
                and tokens[2].value == "credentials"
            ):
                names.update({tokens[0].value, f"{tokens[0].value}_PSW"})
            for index, token in enumerate(tokens[:-2]):
                if (
                    token.kind == "name"
                    and token.value
                    in (
                        "variable",
                        "passwordVariable",
                        "keyFileVariable",
                        "passphraseVariable",
                        "tokenVariable",
                    )
                    and tokens[index + 1].value == ":"
                    and tokens[index + 2].kind == "string"
                ):
                    names.add(tokens[index + 2].value)
    return frozenset(names)


def pipeline(path: str, nodes: list[Node]) -> Pipeline:
    root = next((node for node in nodes if node.name == "pipeline" and node.block is not None), None)
    jobs: list[Job] = []
    pipeline_timeout: float | None = None
    images: list[tuple[int, str]] = []
    if root is not None:
        pipeline_timeout = _timeout(root.child("options"))
        images = _agent_images(root.child("agent"))
        stages = root.child("stages")
        _Declarative(path, jobs, pipeline_timeout, images).sequence(stages.block or [] if stages else [], [])
        post = root.child("post")
        if post is not None:
            jobs.extend(_post_jobs(path, post, [job.id for job in jobs]))
    else:
        _scripted(path, nodes, jobs)
    return Pipeline(
        "jenkins",
        _dirname(path),
        path,
        (path,),
        tuple(jobs),
        references=tuple(_libraries(path, nodes)),
        secret_names=credential_variables(nodes),
        sources=((path, nodes),),
    )


def _dirname(path: str) -> str:
    return path.rpartition("/")[0]


class _Declarative:
    def __init__(
        self, path: str, jobs: list[Job], timeout: float | None, images: list[tuple[int, str]]
    ) -> None:
        self.path = path
        self.jobs = jobs
        self.timeout = timeout
        self.images = images

    def sequence(self, stage_nodes: list[Node], before: list[str], prefix: str = "") -> list[str]:
        """Stages run one after another; returns the ids the next stage waits for."""
        for node in stage_nodes:
            if node.name != "stage":
                continue
            before = self.stage(node, before, prefix)
        return before

    def stage(self, node: Node, before: list[str], prefix: str) -> list[str]:
        title = node.first_string()
        name = title.value if title is not None else "stage"
        parallel = node.child("parallel")
        nested = node.child("stages")
        if parallel is not None:
            ends: list[str] = []
            for child in parallel.children("stage"):
                ends.extend(self.stage(child, before, f"{prefix}{name} / "))
            return ends
        if nested is not None:
            return self.sequence(nested.block or [], before, f"{prefix}{name} / ")
        steps: list[Step] = []
        manual = node.child("input") is not None
        if manual:
            steps.append(Step(node.child("input").line, "input", "approval", "input"))  # type: ignore[union-attr]
        steps_node = node.child("steps")
        if steps_node is not None:
            steps.extend(_steps(steps_node.block or [], ""))
        post = node.child("post")
        if post is not None:
            for condition_node in post.block or []:
                condition: Condition = {
                    "failure": "failure",
                    "unsuccessful": "failure",
                    "always": "always",
                    "cleanup": "always",
                }.get(condition_node.name, "")  # type: ignore[assignment]
                if condition:
                    steps.extend(_steps(condition_node.block or [], condition))
        job = Job(
            id=self._unique(f"{prefix}{name}"),
            name=f"{prefix}{name}",
            path=self.path,
            line=node.line,
            stage=prefix.rstrip(" /"),
            needs=tuple(before),
            steps=tuple(steps),
            manual=manual or any(step.kind == "approval" for step in steps),
            cache=any(step.ref == "cache" for step in steps),  # the Job Cacher plugin's cache step
            timeout_minutes=_timeout(node.child("options")) or self.timeout,
            images=tuple(_agent_images(node.child("agent")) or self.images),
        )
        self.jobs.append(job)
        return [job.id]

    def _unique(self, wanted: str) -> str:
        taken = {job.id for job in self.jobs}
        candidate, count = wanted, 2
        while candidate in taken:
            candidate, count = f"{wanted} ({count})", count + 1
        return candidate


def _post_jobs(path: str, post: Node, everything: list[str]) -> list[Job]:
    jobs: list[Job] = []
    for node in post.block or []:
        condition: Condition = {
            "failure": "failure",
            "unsuccessful": "failure",
            "always": "always",
            "cleanup": "always",
        }.get(node.name, "")  # type: ignore[assignment]
        if not condition:
            continue
        jobs.append(
            Job(
                f"post {node.name}",
                f"post {node.name}",
                path,
                node.line,
                needs=tuple(everything),
                steps=tuple(_steps(node.block or [], condition)),
                condition=condition,
            )
        )
    return jobs


def _steps(nodes: list[Node], condition: Condition, allow_failure: bool = False) -> list[Step]:
    found: list[Step] = []
    for node in nodes:
        nested_allow = allow_failure
        if node.name in ("catchError", "warnError", "unstable"):
            result = node.named("buildResult")
            nested_allow = (
                node.name == "warnError" or result is None or result.value in ("SUCCESS", "UNSTABLE")
            )
        if node.name in SCRIPT_STEPS:
            named = node.named("script")
            token = named if named is not None and named.kind == "string" else node.first_string()
            script = tuple(string_lines(token)) if token is not None else ()
            status = node.named("returnStatus")
            found.append(
                Step(
                    node.line,
                    node.name,
                    "script",
                    "",
                    script,
                    condition=condition,
                    allow_failure=nested_allow or (status is not None and status.value == "true"),
                )
            )
        elif node.name == "input":
            found.append(Step(node.line, "input", "approval", "input", condition=condition))
        elif node.name and node.name not in (
            "script",
            "if",
            "else",
            "for",
            "while",
            "try",
            "catch",
            "finally",
            "def",
            "return",
            "echo",
            "stage",
            "dir",
            "withEnv",
            "timeout",
            "retry",
            "catchError",
            "warnError",
            "node",
            "withCredentials",
        ):
            found.append(
                Step(
                    node.line,
                    node.name,
                    "action",
                    node.name,
                    inputs=(("args", node.source),),
                    condition=condition,
                    allow_failure=nested_allow,
                )
            )
        for block in ([node.block] if node.block else []) + node.inner:
            found.extend(_steps(block, condition, nested_allow))
    return found


def _timeout(options: Node | None) -> float | None:
    if options is None:
        return None
    for node in options.walk():
        if node.name != "timeout":
            continue
        time = node.named("time")
        unit = node.named("unit")
        amount = float(time.value) if time is not None and time.kind == "number" else None
        if amount is None:
            number = next((t for t in node.tokens if t.kind == "number"), None)
            amount = float(number.value) if number is not None else None
        if amount is None:
            return 60.0  # a timeout whose value is computed: some limit exists
        scale = {"SECONDS": 1 / 60, "MINUTES": 1.0, "HOURS": 60.0, "DAYS": 1440.0}
        return amount * scale.get(unit.value if unit is not None else "MINUTES", 1.0)
    return None


def _agent_images(agent: Node | None) -> list[tuple[int, str]]:
    if agent is None:
        return []
    images: list[tuple[int, str]] = []
    for node in agent.walk():
        if node.name == "docker" and node.block is None or node.name == "image":
            token = node.first_string()
            if token is not None:
                images.append((token.line, token.value))
    return images


def _scripted(path: str, nodes: list[Node], jobs: list[Job]) -> None:
    before: list[str] = []
    for top in nodes:
        for node in top.walk():
            if node.name != "stage" or node.block is None:
                continue
            title = node.first_string()
            name = title.value if title is not None else "stage"
            job = Job(name, name, path, node.line, needs=tuple(before), steps=tuple(_steps(node.block, "")))
            job = replace(job, manual=any(step.kind == "approval" for step in job.steps))
            jobs.append(job)
            before = [job.id]


def _libraries(path: str, nodes: list[Node]) -> Iterator[Reference]:
    for top in nodes:
        for node in top.walk():
            if node.name in ("@Library", "library", "lib"):
                for token in node.strings():
                    name, _, version = token.value.partition("@")
                    if not name or (node.name == "lib" and "@" not in token.value and not name):
                        continue
                    pinned = bool(version) and version.lower() not in _BRANCH_VERSIONS
                    yield Reference(
                        path,
                        token.line,
                        "shared library",
                        token.value,
                        pinned,
                        "name a release tag or a commit: @Library('lib@1.4.2') _",
                    )
                    if node.name != "@Library":
                        break
