"""Python: a virtualenv at /opt/venv built in the build image and copied into the same
slim base, so compiled wheels match the runtime's libc and Python exactly.

pip, uv, poetry, pipenv and pdm each install from their lock file in the deps stage; the
tools themselves stay in the build stages.
"""

from __future__ import annotations

from deploysmith.render.dockerfiles.base import (
    HEALTHCHECK_NOTE,
    TOOLS,
    DevSetup,
    ImageContext,
    StartCommand,
    Writer,
    cache,
    copy_manifests,
    create_user,
    parse_start,
    probe_url,
    worker_note,
    write_cmd,
)

VENV = "/opt/venv"
PIP_CACHE = cache("/root/.cache/pip")
_REQUIREMENTS = (
    "requirements.txt",
    "requirements/production.txt",
    "requirements/prod.txt",
    "requirements/base.txt",
    "requirements.lock",
)
_LOCKS = {"uv": "uv.lock", "poetry": "poetry.lock", "pipenv": "Pipfile.lock", "pdm": "pdm.lock"}
_RELOADING_SERVERS = ("uvicorn", "gunicorn", "hypercorn")


def build(ctx: ImageContext, out: Writer) -> None:
    manager = ctx.component.package_manager or "pip"
    if manager not in ("pip", "uv", "poetry", "pipenv", "pdm"):
        manager = "pip"
    out.stage(
        "${BUILD_IMAGE}", "deps",
        f"deps: a virtualenv holding the locked dependencies ({manager}) and nothing else; "
        "this layer is reused until a manifest changes.",
    )
    out.env(
        "PIP_DISABLE_PIP_VERSION_CHECK=1",
        "PIP_ROOT_USER_ACTION=ignore",
        f"VIRTUAL_ENV={VENV}",
        f'PATH="{VENV}/bin:$PATH"',
    )
    out.line("WORKDIR /app")
    lock = _LOCKS.get(manager)
    if lock and not ctx.has(lock):
        out.comment(
            f"NOTE: no {lock} was found, so this install is not reproducible: commit the lock file "
            "and regenerate."
        )
    _DEPS[manager](ctx, out, lock is None or ctx.has(lock))

    out.stage("deps", "build", "build: the application source on top of its dependencies.")
    out.line("COPY . .")
    _finish(ctx, out, manager)

    _runtime(ctx, out)


def _pip(ctx: ImageContext, out: Writer, locked: bool) -> None:
    requirements = _requirements_file(ctx)
    if requirements is None:
        copy_manifests(out, ctx.manifests or ("pyproject.toml",))
        out.comment(
            "NOTE: no lock file: the dependencies are resolved from pyproject.toml here (uv pip "
            "compile reads them without building the project, so a source-only change reuses this "
            "layer), but not reproducibly: commit a requirements.txt from pip-compile, or a uv.lock."
        )
        out.run(
            f'pip install "uv=={TOOLS["uv"]}"',
            f"python -m venv {VENV}",
            "uv pip compile pyproject.toml --output-file /tmp/requirements.txt",
            "pip install -r /tmp/requirements.txt",
            mounts=(PIP_CACHE, cache("/root/.cache/uv")),
        )
        return
    copy_manifests(out, ctx.manifests)
    out.comment(
        f"pip installs exactly what {requirements} pins; when the file carries hashes "
        "(pip-compile --generate-hashes), pip checks every download against them."
    )
    out.run(f"python -m venv {VENV}", f"pip install -r {requirements}", mounts=(PIP_CACHE,))


def _uv(ctx: ImageContext, out: Writer, locked: bool) -> None:
    out.env(
        "UV_COMPILE_BYTECODE=1",
        "UV_LINK_MODE=copy",
        "UV_PYTHON_DOWNLOADS=never",
        f"UV_PROJECT_ENVIRONMENT={VENV}",
    )
    out.run(f'pip install "uv=={TOOLS["uv"]}"', mounts=(PIP_CACHE,))
    copy_manifests(out, ctx.manifests)
    out.comment(
        "--locked fails the build when uv.lock no longer matches pyproject.toml (stricter than "
        "--frozen, which would install a stale lock); the project itself is installed after "
        "the source is copied."
    )
    flag = "--locked " if locked else ""
    out.run(f"uv sync {flag}--no-dev --no-install-project", mounts=(cache("/root/.cache/uv"),))


def _poetry(ctx: ImageContext, out: Writer, locked: bool) -> None:
    out.env("POETRY_NO_INTERACTION=1", "POETRY_VIRTUALENVS_CREATE=false")
    out.run(f'pip install "poetry=={TOOLS["poetry"]}"', f"python -m venv {VENV}", mounts=(PIP_CACHE,))
    copy_manifests(out, ctx.manifests)
    out.comment(
        "Poetry installs into the virtualenv named by VIRTUAL_ENV, main group only, and refuses "
        "a poetry.lock that is out of date with pyproject.toml."
    )
    out.run("poetry install --only main --no-root", mounts=(cache("/root/.cache/pypoetry"),))


def _pipenv(ctx: ImageContext, out: Writer, locked: bool) -> None:
    out.env("PIPENV_VERBOSITY=-1")
    out.run(f'pip install "pipenv=={TOOLS["pipenv"]}"', f"python -m venv {VENV}", mounts=(PIP_CACHE,))
    copy_manifests(out, ctx.manifests)
    out.comment(
        "--deploy refuses a Pipfile.lock that is out of date with the Pipfile; pipenv installs "
        "into the virtualenv named by VIRTUAL_ENV."
    )
    out.run("pipenv install --deploy", mounts=(PIP_CACHE, cache("/root/.cache/pipenv")))


def _pdm(ctx: ImageContext, out: Writer, locked: bool) -> None:
    out.env("PDM_CHECK_UPDATE=false")
    out.run(f'pip install "pdm=={TOOLS["pdm"]}"', f"python -m venv {VENV}", mounts=(PIP_CACHE,))
    copy_manifests(out, ctx.manifests)
    out.comment(
        "pdm lock --check fails when pdm.lock is out of date; the export carries the lock's "
        "hashes, and pip refuses anything that does not match them."
    )
    out.run(
        "pdm lock --check",
        "pdm export --prod --output /tmp/requirements.txt",
        "pip install --no-deps --require-hashes -r /tmp/requirements.txt",
        mounts=(PIP_CACHE,),
    )


_DEPS = {"pip": _pip, "uv": _uv, "poetry": _poetry, "pipenv": _pipenv, "pdm": _pdm}


def _requirements_file(ctx: ImageContext) -> str | None:
    for name in _REQUIREMENTS:
        if ctx.has(name):
            return name
    for name in ctx.manifests:
        base = name.rsplit("/", 1)[-1]
        if base.startswith("requirements") and base.endswith(".txt") and not any(
            word in base for word in ("dev", "test", "lint", "doc")
        ):
            return name
    return None


def _finish(ctx: ImageContext, out: Writer, manager: str) -> None:
    if manager == "uv":
        locked = "--locked " if ctx.has("uv.lock") else ""
        out.run(f"uv sync {locked}--no-dev --no-editable", mounts=(cache("/root/.cache/uv"),))
    elif manager == "pip" and _requirements_file(ctx) is None:
        out.comment("The project itself, into the virtualenv (its dependencies are already there).")
        out.run("pip install --no-deps .", mounts=(PIP_CACHE,))
    elif manager in ("poetry", "pipenv", "pdm"):
        out.comment("The application runs from /app; it is not installed into the virtualenv as a package.")
    if any(w.component.framework == "django" for w in ctx.workloads):
        out.comment(
            "Static files are collected at build time. SECRET_KEY here is a throwaway value for "
            "this one command, not a secret: the real one comes from the environment at runtime."
        )
        out.run("SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput")


def _runtime(ctx: ImageContext, out: Writer) -> None:
    image = ctx.image
    out.stage(
        "${RUNTIME_IMAGE}", "runtime",
        "runtime: the same Python base without build tools, the virtualenv and the source, "
        f"owned by root and read-only to the app (uid {image.uid}).",
    )
    out.env(
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        f"VIRTUAL_ENV={VENV}",
        f'PATH="{VENV}/bin:$PATH"',
    )
    create_user(out, image.uid)
    out.line("WORKDIR /app")
    out.line(f"COPY --from=build {VENV} {VENV}")
    out.line("COPY --from=build /app /app")
    out.line(f"USER {image.uid}:{image.uid}")
    if ctx.port:
        out.line(f"EXPOSE {ctx.port}")
    _healthcheck(ctx, out)
    start = _start(ctx)
    note = worker_note(ctx)
    write_cmd(
        out, start,
        (
            "The server itself is PID 1 (exec form, no shell) and handles SIGTERM by finishing "
            "in-flight requests."
            if ctx.port
            else "The worker itself is PID 1 (exec form, no shell), so SIGTERM reaches it directly."
        )
        + (f" {note}" if note else ""),
    )


def _healthcheck(ctx: ImageContext, out: Writer) -> None:
    url = probe_url(ctx.lead)
    probe = ctx.lead.probe
    if url:
        code = f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)"
    elif probe.kind == "tcp" and probe.port:
        code = f"import socket; socket.create_connection(('127.0.0.1', {probe.port}), timeout=4).close()"
    else:
        out.no_healthcheck()
        return
    out.comment(HEALTHCHECK_NOTE)
    out.healthcheck(("python", "-c", code))


def _start(ctx: ImageContext) -> StartCommand:
    component = ctx.component
    if component.start_command:
        return parse_start(component.start_command, ctx.port, component.name)
    module = component.name.replace("-", "_")
    return StartCommand(
        ("python", "-m", module), (),
        (f"no start command was detected for {component.name}; `python -m {module}` is a guess: "
         "replace it.",),
    )


def ignore(ctx: ImageContext) -> tuple[str, ...]:
    lines = [
        "# Python: local virtualenvs, caches and build output (the image builds its own)",
        ".venv/",
        "venv/",
        "**/__pycache__/",
        "**/*.py[cod]",
        ".pytest_cache/",
        ".mypy_cache/",
        ".ruff_cache/",
        ".tox/",
        ".nox/",
        "*.egg-info/",
        "build/",
        "dist/",
        "# Tests and coverage: no stage runs tests (CI runs them on the source), so they stay out",
        "tests/",
        ".coverage",
        ".coverage.*",
        "htmlcov/",
    ]
    if any(w.component.framework == "django" for w in ctx.workloads):
        lines += ["# Django: collectstatic output is produced inside the image", "staticfiles/"]
    return tuple(lines)


def dev(ctx: ImageContext) -> DevSetup:
    start = _start(ctx)
    argv = start.argv
    reason = (
        "the production image with the source bind-mounted read-only over /app (the virtualenv "
        "lives in /opt/venv, so the mount does not hide it)"
    )
    if argv[0] in _RELOADING_SERVERS and "--reload" not in argv:
        argv = (*argv, "--reload")
        reason += f"; {argv[0]} --reload restarts the server when a file changes"
    elif argv[:3] == ("python", "manage.py", "runserver"):
        reason += "; runserver reloads on change"
    return DevSetup(target="runtime", reason=reason, command=argv, bind_source=True)
