"""The Python plugin: package managers, frameworks, start commands and the facts around them."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploysmith.detect import python
from deploysmith.detect.base import Strength
from deploysmith.model import Component, Evidence

from .conftest import detect, named, only, run_plugin, where

FLASK_APP = """
    from flask import Flask

    app = Flask(__name__)


    @app.route("/health")
    def health():
        return "ok"
"""


def test_flask_with_pip_and_gunicorn_is_described_exactly(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "requirements.txt": "Flask==3.0.0\ngunicorn==21.2.0\npsycopg2-binary==2.9\n",
            "app.py": FLASK_APP,
            ".python-version": "3.12.2\n",
        },
    )
    assert only(stack) == Component(
        name="shop",
        path=".",
        kind="web",
        language="python",
        language_version="3.12",
        framework="flask",
        package_manager="pip",
        start_command="gunicorn app:app --bind 0.0.0.0:8000",
        port=8000,
        services=("postgres",),
        health_path="/health",
        dependency_files=("requirements.txt",),
        evidence={
            "package_manager": (Evidence("requirements.txt", None, ""),),
            "dependency_files": (Evidence("requirements.txt", None, ""),),
            "language_version": (Evidence(".python-version", 1, "3.12.2"),),
            "framework": (Evidence("app.py", 3, "app = Flask(__name__)"),),
            "start_command": (
                Evidence("app.py", 3, "app = Flask(__name__)"),
                Evidence("requirements.txt", 2, "gunicorn==21.2.0"),
            ),
            "port": (Evidence("requirements.txt", 2, "gunicorn==21.2.0", default=True),),
            "health_path": (Evidence("app.py", 6, '@app.route("/health")'),),
            "services": (Evidence("requirements.txt", 3, "psycopg2-binary==2.9"),),
        },
    )


def test_flask_without_a_production_server_uses_flask_run_and_warns(repo_root: Path) -> None:
    stack = detect(repo_root, {"requirements.txt": "flask\n", "app.py": FLASK_APP})
    component = only(stack)
    assert component.start_command == "flask --app app:app run --host 0.0.0.0 --port 5000"
    assert component.port == 5000
    assert component.evidence["port"][0].default is True
    assert stack.warnings == (
        ".: no production server (gunicorn, uvicorn) in the dependencies; "
        "the start command uses the framework's development server",
    )


def test_flask_app_factory_is_called_by_gunicorn(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "requirements.txt": "flask\ngunicorn\n",
            "shop/__init__.py": """
                from flask import Flask


                def create_app():
                    app = Flask(__name__)
                    return app
            """,
        },
    )
    component = only(stack)
    assert component.start_command == "gunicorn shop:create_app() --bind 0.0.0.0:8000"
    assert where(component, "framework") == [("shop/__init__.py", 4)]


def test_fastapi_with_uv_src_layout_and_health_route(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "pyproject.toml": """
                [project]
                name = "shop"
                requires-python = ">=3.12,<3.14"
                dependencies = [
                    "fastapi>=0.110",
                    "uvicorn[standard]>=0.29",
                    "asyncpg",
                ]

                [dependency-groups]
                dev = ["pytest>=8", "ruff"]

                [tool.ruff]
                line-length = 100
            """,
            "uv.lock": "version = 1\n",
            "src/shop/main.py": """
                from fastapi import FastAPI

                from shop.api import router

                app = FastAPI(title="shop")
                app.include_router(router)
            """,
            "src/shop/api.py": """
                from fastapi import APIRouter

                router = APIRouter(prefix="/api")


                @router.get("/healthz")
                def healthz():
                    return {}
            """,
        },
    )
    component = only(stack)
    assert component.framework == "fastapi"
    assert component.package_manager == "uv"
    assert component.dependency_files == ("pyproject.toml", "uv.lock")
    assert component.start_command == "uvicorn shop.main:app --host 0.0.0.0 --port 8000 --app-dir src"
    assert component.port == 8000
    assert component.language_version == "3.12"
    assert component.test_command == "pytest"
    assert component.lint_command == "ruff check ."
    assert component.services == ("postgres",)
    assert component.health_path == "/api/healthz"
    assert where(component, "health_path") == [("src/shop/api.py", 6)]
    assert where(component, "language_version") == [("pyproject.toml", 3)]
    assert where(component, "lint_command") == [("pyproject.toml", 13)]
    assert where(component, "port") == [("pyproject.toml", 6)]
    assert component.evidence["port"][0].default is True


def test_fastapi_standard_extra_brings_uvicorn(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "requirements.txt": "fastapi[standard]\n",
            "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        },
    )
    assert only(stack).start_command == "uvicorn main:app --host 0.0.0.0 --port 8000"
    assert stack.warnings == ()


def test_port_from_code_is_used_in_the_start_command(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "requirements.txt": "fastapi\nuvicorn\n",
            "main.py": """
                import uvicorn
                from fastapi import FastAPI

                app = FastAPI()

                if __name__ == "__main__":
                    uvicorn.run(app, host="0.0.0.0", port=8080)
            """,
        },
    )
    component = only(stack)
    assert component.port == 8080
    assert component.start_command == "uvicorn main:app --host 0.0.0.0 --port 8080"
    assert component.evidence["port"] == (
        Evidence("main.py", 7, 'uvicorn.run(app, host="0.0.0.0", port=8080)'),
    )


def test_port_from_environment_default(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "requirements.txt": "flask\ngunicorn\n",
            "app.py": (
                "import os\nfrom flask import Flask\napp = Flask(__name__)\n"
                'PORT = int(os.environ.get("PORT", "5001"))\n'
            ),
        },
    )
    assert only(stack).port == 5001
    assert where(only(stack), "port") == [("app.py", 4)]


DJANGO = {
    "manage.py": """
        #!/usr/bin/env python
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
            from django.core.management import execute_from_command_line
            execute_from_command_line(sys.argv)
    """,
    "config/__init__.py": "from .celery import app as celery_app\n",
    "config/settings/__init__.py": "",
    "config/settings/production.py": """
        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "shop",
            }
        }
        CELERY_BROKER_URL = "redis://redis:6379/0"
    """,
    "config/wsgi.py": """
        import os
        from django.core.wsgi import get_wsgi_application
        application = get_wsgi_application()
    """,
    "config/urls.py": """
        from django.urls import include, path

        urlpatterns = [
            path("admin/", admin.site.urls),
            path("healthz/", views.healthz),
        ]
    """,
    "config/celery.py": """
        from celery import Celery

        app = Celery("config")
        app.config_from_object("django.conf:settings", namespace="CELERY")
    """,
    "requirements.txt": "Django==5.0.3\ngunicorn==21.2.0\ncelery[redis]==5.3\npsycopg[binary]==3.1\n",
    "runtime.txt": "python-3.11.8\n",
}


def test_django_with_gunicorn_celery_and_postgres(repo_root: Path) -> None:
    stack = detect(repo_root, DJANGO)
    web = named(stack, "shop")
    assert web.framework == "django"
    assert web.start_command == "gunicorn config.wsgi:application --bind 0.0.0.0:8000"
    assert web.port == 8000
    assert web.language_version == "3.11"
    assert web.test_command == "python manage.py test"
    assert web.migration_tool == "django"
    assert web.migrate_command == "python manage.py migrate --noinput"
    assert web.health_path == "/healthz/"
    assert web.services == ("postgres", "redis")
    assert where(web, "framework") == [("manage.py", 6)]
    assert where(web, "health_path") == [("config/urls.py", 5)]
    assert where(web, "language_version") == [("runtime.txt", 1)]
    assert where(web, "services") == [("requirements.txt", 4), ("config/settings/production.py", 7)]
    worker = named(stack, "shop-worker")
    assert worker == Component(
        name="shop-worker",
        path=".",
        kind="worker",
        language="python",
        language_version="3.11",
        framework="celery",
        package_manager="pip",
        start_command="celery -A config worker --loglevel=INFO",
        services=("postgres", "redis"),
        dependency_files=("requirements.txt",),
        evidence=worker.evidence,
    )
    assert where(worker, "start_command") == [("config/celery.py", 3)]
    assert [c.name for c in stack.components] == ["shop", "shop-worker"]


def test_django_with_pytest_runs_pytest(repo_root: Path) -> None:
    files = dict(DJANGO, **{"requirements-dev.txt": "-r requirements.txt\npytest-django\npytest\n"})
    component = named(detect(repo_root, files), "shop")
    assert component.test_command == "pytest"
    assert where(component, "test_command") == [("requirements-dev.txt", 3)]
    assert component.dependency_files == ("requirements.txt", "requirements-dev.txt")


def test_django_with_daphne_serves_asgi(repo_root: Path) -> None:
    files = dict(DJANGO)
    files["requirements.txt"] = "django\nchannels\ndaphne\n"
    files["config/asgi.py"] = (
        "from django.core.asgi import get_asgi_application\napplication = get_asgi_application()\n"
    )
    component = named(detect(repo_root, files), "shop")
    assert component.start_command == "daphne -b 0.0.0.0 -p 8000 config.asgi:application"


def test_django_without_a_server_uses_runserver_and_warns(repo_root: Path) -> None:
    files = {k: v for k, v in DJANGO.items() if "celery" not in k}
    files["requirements.txt"] = "django\n"
    stack = detect(repo_root, files)
    assert only(stack).start_command == "python manage.py runserver 0.0.0.0:8000"
    assert "development server" in stack.warnings[0]


def test_django_health_check_package_route(repo_root: Path) -> None:
    files = dict(DJANGO)
    files["config/urls.py"] = 'urlpatterns = [path("ht/", include("health_check.urls"))]\n'
    component = named(detect(repo_root, files), "shop")
    assert component.health_path == "/ht/"  # django-health-check, wherever it is mounted
    assert where(component, "health_path") == [("config/urls.py", 1)]


@pytest.mark.parametrize(
    ("files", "manager", "dependency_files"),
    [
        ({"requirements.txt": "flask\n"}, "pip", ("requirements.txt",)),
        ({"pyproject.toml": '[project]\nname="x"\ndependencies=["flask"]\n'}, "pip", ("pyproject.toml",)),
        (
            {
                "pyproject.toml": '[tool.poetry]\nname="x"\n'
                '[tool.poetry.dependencies]\npython="^3.11"\nflask="*"\n'
            },
            "poetry",
            ("pyproject.toml",),
        ),
        (
            {"pyproject.toml": '[tool.poetry.dependencies]\nflask="*"\n', "poetry.lock": "# lock\n"},
            "poetry",
            ("pyproject.toml", "poetry.lock"),
        ),
        (
            {
                "pyproject.toml": '[project]\nname="x"\ndependencies=["flask"]\n'
                "[tool.uv]\ndev-dependencies=[]\n"
            },
            "uv",
            ("pyproject.toml",),
        ),
        (
            {"Pipfile": '[packages]\nflask = "*"\n', "Pipfile.lock": "{}"},
            "pipenv",
            ("Pipfile", "Pipfile.lock"),
        ),
        ({"Pipfile": '[packages]\nflask = "*"\n'}, "pipenv", ("Pipfile",)),
        (
            {"pyproject.toml": '[project]\nname="x"\ndependencies=["flask"]\n', "pdm.lock": "# pdm\n"},
            "pdm",
            ("pyproject.toml", "pdm.lock"),
        ),
        (
            {
                "pyproject.toml": '[project]\nname="x"\ndependencies=["flask"]\n'
                "[tool.pdm]\ndistribution=false\n"
            },
            "pdm",
            ("pyproject.toml",),
        ),
    ],
)
def test_package_managers(
    repo_root: Path, files: dict[str, str], manager: str, dependency_files: tuple[str, ...]
) -> None:
    component = only(detect(repo_root, {**files, "app.py": FLASK_APP}))
    assert component.package_manager == manager
    assert component.dependency_files == dependency_files
    assert component.framework == "flask"


def test_poetry_table_is_the_evidence(repo_root: Path) -> None:
    files = {
        "pyproject.toml": '[tool.black]\n\n[tool.poetry]\nname="x"\n[tool.poetry.dependencies]\nflask="*"\n'
    }
    component = only(detect(repo_root, {**files, "app.py": FLASK_APP}))
    assert where(component, "package_manager") == [("pyproject.toml", 3)]


@pytest.mark.parametrize(
    ("files", "version", "source"),
    [
        ({".python-version": "3.13\n"}, "3.13", (".python-version", 1)),
        ({"runtime.txt": "python-3.10.14\n"}, "3.10", ("runtime.txt", 1)),
        ({".tool-versions": "nodejs 20.1.0\npython 3.11.9\n"}, "3.11", (".tool-versions", 2)),
        ({"Pipfile": '[packages]\nflask="*"\n\n[requires]\npython_version = "3.9"\n'}, "3.9", ("Pipfile", 5)),
        (
            {"pyproject.toml": '[project]\nname="x"\nrequires-python = ">=3.11"\ndependencies=["flask"]\n'},
            "3.11",
            ("pyproject.toml", 3),
        ),
        (
            {"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.12"\nflask = "*"\n'},
            "3.12",
            ("pyproject.toml", 2),
        ),
        ({".python-version": "system\n", "runtime.txt": "python-3.8.1\n"}, "3.8", ("runtime.txt", 1)),
    ],
)
def test_language_version(
    repo_root: Path, files: dict[str, str], version: str, source: tuple[str, int]
) -> None:
    base = {} if any(k in files for k in ("Pipfile", "pyproject.toml")) else {"requirements.txt": "flask\n"}
    component = only(detect(repo_root, {**base, **files, "app.py": FLASK_APP}))
    assert component.language_version == version
    assert where(component, "language_version") == [source]


def test_unknown_language_version_stays_none(repo_root: Path) -> None:
    component = only(detect(repo_root, {"requirements.txt": "flask\n", "app.py": FLASK_APP}))
    assert component.language_version is None
    assert "language_version" not in component.evidence


def test_starlette_app_served_by_uvicorn(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "requirements.txt": "starlette\nuvicorn\n",
            "server.py": """
                from starlette.applications import Starlette
                from starlette.routing import Route

                app = Starlette(routes=[Route("/ping", ping)])
            """,
        },
    )
    component = only(stack)
    assert component.framework == "starlette"
    assert component.start_command == "uvicorn server:app --host 0.0.0.0 --port 8000"
    assert component.health_path == "/ping"


def test_plain_wsgi_application_with_waitress(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "requirements.txt": "waitress\n",
            "wsgi.py": "from shop.web import make_application\n\napplication = make_application()\n",
        },
    )
    component = only(stack)
    assert component.framework is None
    assert component.start_command == "waitress-serve --listen=0.0.0.0:8080 wsgi:application"
    assert component.port == 8080
    assert where(component, "start_command")[0] == ("wsgi.py", 3)


def test_streamlit_app(repo_root: Path) -> None:
    component = only(
        detect(
            repo_root, {"requirements.txt": "streamlit\npandas\n", "dashboard.py": "import streamlit as st\n"}
        )
    )
    assert component.framework == "streamlit"
    assert component.start_command == "streamlit run dashboard.py --server.port 8501 --server.address 0.0.0.0"
    assert component.port == 8501


def test_a_script_with_a_main_guard_is_a_runnable_worker(tmp_path: Path) -> None:
    detection = run_plugin(
        python,
        tmp_path,
        {
            "requirements.txt": "requests\npika\n",
            "consumer.py": 'import pika\n\nif __name__ == "__main__":\n    main()\n',
        },
    )
    assert detection is not None
    assert detection.strength == Strength.RUNNABLE
    component = detection.components[0]
    assert component.kind == "worker"
    assert component.start_command == "python consumer.py"
    assert component.services == ("rabbitmq",)
    assert where(component, "start_command") == [("consumer.py", 3)]


def test_a_package_with_dunder_main_runs_as_a_module(tmp_path: Path) -> None:
    detection = run_plugin(
        python,
        tmp_path,
        {
            "pyproject.toml": '[project]\nname="bot"\ndependencies=["httpx"]\n',
            "src/bot/__main__.py": "run()\n",
        },
    )
    assert detection is not None
    assert detection.components[0].start_command == "python -m bot"


def test_pyproject_that_only_configures_tools_is_tooling(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": "[tool.ruff]\nline-length = 100\n\n[tool.black]\n\n[tool.mypy]\nstrict = true\n"
    }
    detection = run_plugin(python, tmp_path, files)
    assert detection is not None
    assert detection.strength == Strength.TOOLING
    assert detection.components[0].lint_command == "ruff check ."
    assert detect(tmp_path, {}).components == ()


def test_a_library_is_tooling(tmp_path: Path) -> None:
    detection = run_plugin(
        python,
        tmp_path,
        {"pyproject.toml": '[project]\nname="lib"\ndependencies=["attrs"]\n', "lib/core.py": ""},
    )
    assert detection is not None and detection.strength == Strength.TOOLING


@pytest.mark.parametrize(
    ("dependency", "service"),
    [
        ("psycopg", "postgres"),
        ("psycopg2", "postgres"),
        ("asyncpg", "postgres"),
        ("pymysql", "mysql"),
        ("mysqlclient", "mysql"),
        ("redis", "redis"),
        ("pymongo", "mongodb"),
        ("motor", "mongodb"),
        ("pika", "rabbitmq"),
        ("kafka-python", "kafka"),
        ("confluent-kafka", "kafka"),
        ("aiokafka", "kafka"),
        ("elasticsearch", "elasticsearch"),
    ],
)
def test_services_from_dependencies(repo_root: Path, dependency: str, service: str) -> None:
    component = only(
        detect(repo_root, {"requirements.txt": f"flask\n{dependency}>=1\n", "app.py": FLASK_APP})
    )
    assert component.services == (service,)
    assert where(component, "services") == [("requirements.txt", 2)]


def test_amqp_broker_url_means_rabbitmq(repo_root: Path) -> None:
    files = {
        "requirements.txt": "flask\ncelery\n",
        "app.py": FLASK_APP,
        "tasks.py": 'from celery import Celery\ncelery = Celery("tasks", broker="amqp://guest@rabbit//")\n',
    }
    stack = detect(repo_root, files)
    assert named(stack, "shop").services == ("rabbitmq",)
    assert named(stack, "shop-worker").start_command == "celery -A tasks worker --loglevel=INFO"


def test_celery_app_with_another_name(repo_root: Path) -> None:
    files = {
        "requirements.txt": "flask\ncelery\n",
        "app.py": FLASK_APP,
        "jobs/queue.py": "from celery import Celery\nbroker = Celery()\n",
    }
    assert named(detect(repo_root, files), "shop-worker").start_command == (
        "celery -A jobs.queue:broker worker --loglevel=INFO"
    )


def test_alembic_migrations(repo_root: Path) -> None:
    files = {
        "requirements.txt": "fastapi\nuvicorn\nalembic\nsqlalchemy\n",
        "alembic.ini": "[alembic]\nscript_location = migrations\n",
        "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    }
    component = only(detect(repo_root, files))
    assert component.migration_tool == "alembic"
    assert component.migrate_command == "alembic upgrade head"
    assert where(component, "migrate_command") == [("alembic.ini", 2)]


@pytest.mark.parametrize(
    ("files", "lint", "test", "lint_source"),
    [
        ({".flake8": "[flake8]\n"}, "flake8", None, (".flake8", None)),
        ({"setup.cfg": "[metadata]\n[flake8]\nmax-line-length=100\n"}, "flake8", None, ("setup.cfg", 2)),
        ({"ruff.toml": "line-length = 100\n"}, "ruff check .", None, ("ruff.toml", None)),
        ({"pytest.ini": "[pytest]\n"}, None, "pytest", None),
        ({"conftest.py": ""}, None, "pytest", None),
    ],
)
def test_lint_and_test_configuration(
    repo_root: Path,
    files: dict[str, str],
    lint: str | None,
    test: str | None,
    lint_source: tuple[str, int] | None,
) -> None:
    component = only(detect(repo_root, {"requirements.txt": "flask\n", "app.py": FLASK_APP, **files}))
    assert component.lint_command == lint
    assert component.test_command == test
    if lint_source:
        assert where(component, "lint_command") == [lint_source]


def test_requirements_includes_are_followed(repo_root: Path) -> None:
    files = {
        "requirements.txt": "-r requirements/base.txt\n",
        "requirements/base.txt": "flask  # web\ngunicorn\n-e git+https://example.com/x.git#egg=redis\n",
        "app.py": FLASK_APP,
    }
    component = only(detect(repo_root, files))
    assert component.start_command == "gunicorn app:app --bind 0.0.0.0:8000"
    assert component.services == ("redis",)
    assert component.dependency_files == ("requirements.txt", "requirements/base.txt")


def test_malformed_pyproject_is_a_warning_not_a_crash(repo_root: Path) -> None:
    stack = detect(
        repo_root, {"pyproject.toml": "[project\nname = ", "requirements.txt": "flask\n", "app.py": FLASK_APP}
    )
    assert only(stack).framework == "flask"
    assert stack.warnings[0].startswith("pyproject.toml: malformed TOML")


def test_setup_py_install_requires(repo_root: Path) -> None:
    files = {"setup.py": 'setup(name="x", install_requires=["flask>=2", "gunicorn"])\n', "app.py": FLASK_APP}
    component = only(detect(repo_root, files))
    assert component.package_manager == "pip"
    assert component.start_command == "gunicorn app:app --bind 0.0.0.0:8000"
    assert component.dependency_files == ("setup.py",)


def test_django_project_in_a_subfolder_of_the_dependencies(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "requirements.txt": "django\ngunicorn\ncelery\n",
            "src/manage.py": 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n',
            "src/shop/settings.py": "",
            "src/shop/wsgi.py": "application = get_wsgi_application()\n",
            "src/shop/celery.py": "app = Celery('shop')\n",
        },
    )
    assert [(c.path, c.name) for c in stack.components] == [(".", "shop"), (".", "shop-worker")]
    web = named(stack, "shop")
    assert web.start_command == "gunicorn shop.wsgi:application --bind 0.0.0.0:8000 --chdir src"
    assert web.migrate_command == "python src/manage.py migrate --noinput"
    assert web.test_command == "python src/manage.py test"
    assert where(web, "framework") == [("src/manage.py", 1)]
    assert named(stack, "shop-worker").start_command == (
        "celery -A shop worker --loglevel=INFO --workdir src"
    )


def test_pins_in_the_folder_beat_pins_above_it(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            ".python-version": "3.11\n",
            "services/api/runtime.txt": "python-3.12.1\n",
            **{
                f"services/api/{k}": v
                for k, v in {"requirements.txt": "flask\n", "app.py": FLASK_APP}.items()
            },
            **{
                f"services/web/{k}": v
                for k, v in {"requirements.txt": "flask\n", "app.py": FLASK_APP}.items()
            },
        },
    )
    assert named(stack, "api").language_version == "3.12"
    assert named(stack, "web").language_version == "3.11"
    assert where(named(stack, "web"), "language_version") == [(".python-version", 1)]


def test_pytest_configured_in_setup_cfg_beats_django_test_runner(repo_root: Path) -> None:
    files = dict(
        DJANGO,
        **{"setup.cfg": "[flake8]\nmax-line-length = 100\n\n[tool:pytest]\nDJANGO_SETTINGS_MODULE = x\n"},
    )
    component = named(detect(repo_root, files), "shop")
    assert (component.test_command, component.lint_command) == ("pytest", "flake8")
    assert where(component, "test_command") == [("setup.cfg", 4)]


@pytest.mark.parametrize(
    ("servers", "command"),
    [
        ("hypercorn", "hypercorn main:app --bind 0.0.0.0:8000"),
        ("gunicorn\nuvicorn", "gunicorn main:app --bind 0.0.0.0:8000 -k uvicorn.workers.UvicornWorker"),
        ("granian", "granian --interface asgi --host 0.0.0.0 --port 8000 main:app"),
    ],
)
def test_asgi_servers(repo_root: Path, servers: str, command: str) -> None:
    files = {
        "requirements.txt": f"fastapi\n{servers}\n",
        "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    }
    assert only(detect(repo_root, files)).start_command == command


def test_a_package_with_console_scripts_is_a_tool(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": '[project]\nname="cli"\ndependencies=["click"]\n'
        '[project.scripts]\ncli = "cli.main:run"\n',
        "src/cli/__main__.py": "run()\n",
    }
    detection = run_plugin(python, tmp_path, files)
    assert detection is not None and detection.strength == Strength.TOOLING


# -- dependency files: what the install reads ---------------------------------------------------


def test_requirement_includes_are_dependency_files_resolved_from_the_including_file(repo_root: Path) -> None:
    files = {
        "api/requirements.txt": "-r requirements/prod.txt\n--constraint=constraints.txt\n",
        "api/requirements/prod.txt": "-r base.txt\ngunicorn\n",
        "api/requirements/base.txt": "flask\n-c ../../shared/pins.txt\n",
        "api/constraints.txt": "flask==3.0.3\n",
        "api/requirements-dev.txt": "-r requirements.txt\npytest\n",
        "shared/pins.txt": "gunicorn==22.0.0\n",
        "api/app.py": FLASK_APP,
    }
    stack = detect(repo_root, files)
    component = only(stack)
    assert component.dependency_files == (
        "requirements.txt",
        "requirements/prod.txt",
        "requirements/base.txt",
        "constraints.txt",
        "requirements-dev.txt",
    )
    assert where(component, "dependency_files") == [(f"api/{n}", None) for n in component.dependency_files]
    assert stack.warnings == (
        "api: pip install -r reads shared/pins.txt, outside api, the folder the image is built from; the "
        "image build cannot see it",
    )


def test_requirements_that_install_local_paths_or_carry_credentials_are_reported(repo_root: Path) -> None:
    files = {
        "requirements.txt": (
            "--extra-index-url https://deploy:${PYPI_TOKEN}@pypi.acme.dev/simple\nflask\ngunicorn\n-e .\n"
        ),
        "pyproject.toml": '[project]\nname = "shop"\ndependencies = []\n',
        "app.py": FLASK_APP,
    }
    stack = detect(repo_root, files)
    # The project installs itself: its pyproject.toml is read too.
    assert only(stack).dependency_files == ("requirements.txt", "pyproject.toml")
    assert stack.warnings == (
        "requirements.txt:1: a package-index URL with credentials; they end up in the image with this file: "
        "use a BuildKit secret (e.g. PIP_INDEX_URL from RUN --mount=type=secret)",
        "requirements.txt:4: installs the local path .; the image's dependency layer is installed before the "
        "source is copied, so pip cannot build it there: install it after the source instead (e.g. "
        "`pip install --no-deps .`)",
    )


def test_pyproject_is_no_dependency_file_when_requirements_list_the_dependencies(repo_root: Path) -> None:
    files = {
        "requirements.txt": "flask\ngunicorn\n",
        "pyproject.toml": '[project]\nname = "shop"\ndependencies = ["flask"]\n',
        "app.py": FLASK_APP,
    }
    assert only(detect(repo_root, files)).dependency_files == ("requirements.txt",)


def test_uv_reads_its_config_and_python_version(repo_root: Path) -> None:
    files = {
        "pyproject.toml": '[project]\nname = "shop"\ndependencies = ["flask", "gunicorn"]\n',
        "uv.lock": "version = 1\n",
        "uv.toml": '[[index]]\nurl = "https://pypi.acme.dev/simple"\n',
        ".python-version": "3.12.4\n",
        "app.py": FLASK_APP,
    }
    stack = detect(repo_root, files)
    component = only(stack)
    assert component.dependency_files == ("pyproject.toml", "uv.lock", "uv.toml", ".python-version")
    assert stack.warnings == (
        ".python-version: pins Python 3.12.4 exactly; uv in the image only uses that patch release, which "
        "the 3.12 base image may not have: pin the minor version instead",
    )


def test_uv_workspace_root_lists_its_members(repo_root: Path) -> None:
    files = {
        "pyproject.toml": (
            '[project]\nname = "shop"\ndependencies = ["fastapi", "uvicorn", "shared"]\n'
            '[tool.uv.workspace]\nmembers = ["libs/*"]\nexclude = ["libs/old"]\n'
        ),
        "uv.lock": "version = 1\n",
        "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        "libs/shared/pyproject.toml": '[project]\nname = "shared"\n',
        "libs/old/pyproject.toml": '[project]\nname = "old"\n',
    }
    component = named(detect(repo_root, files), "shop")
    assert component.dependency_files == ("pyproject.toml", "uv.lock", "libs/shared/pyproject.toml")


@pytest.mark.parametrize(
    ("files", "dependency_files", "warning"),
    [
        (
            {"pyproject.toml": '[tool.poetry.dependencies]\nflask = "*"\ngunicorn = "*"\n',
             "poetry.lock": "#\n",
             "poetry.toml": "[virtualenvs]\nin-project = true\n"},
            ("pyproject.toml", "poetry.lock", "poetry.toml"),
            None,
        ),
        (
            {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["flask", "gunicorn"]\n',
             "pdm.lock": "#\n",
             "pdm.toml": '[pypi.private]\nurl = "https://pypi.acme.dev/simple"\npassword = "hunter2"\n'},
            ("pyproject.toml", "pdm.lock"),
            "pdm.toml: holds credentials (password); not copied with the dependency files (an image layer "
            "would keep it): give the install a BuildKit secret instead (RUN --mount=type=secret) and keep "
            "the file out of the image (.dockerignore)",
        ),
        (
            {"requirements.txt": "flask\ngunicorn\n", ".pypirc": "[pypi]\npassword = pypi-abc\n"},
            ("requirements.txt",),
            ".pypirc: holds package-index credentials; not copied with the dependency files (an image layer "
            "would keep it): give the install a BuildKit secret instead (RUN --mount=type=secret) and keep "
            "the file out of the image (.dockerignore)",
        ),
    ],
)
def test_tool_config_files_and_credentials(
    repo_root: Path, files: dict[str, str], dependency_files: tuple[str, ...], warning: str | None
) -> None:
    stack = detect(repo_root, {**files, "app.py": FLASK_APP})
    assert only(stack).dependency_files == dependency_files
    assert stack.warnings == ((warning,) if warning else ())


def test_an_editable_install_in_dev_requirements_is_ci_only(repo_root: Path) -> None:
    files = {
        "requirements.txt": "flask\ngunicorn\n",
        "requirements-dev.txt": "-r requirements.txt\n-e .[test]\npytest\n",
        "pyproject.toml": '[project]\nname = "shop"\ndependencies = []\n',
        "app.py": FLASK_APP,
    }
    stack = detect(repo_root, files)
    assert only(stack).dependency_files == ("requirements.txt", "requirements-dev.txt")
    assert stack.warnings == ()
