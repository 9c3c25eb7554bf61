"""The static-site plugin: an index.html and nothing to build."""

from __future__ import annotations

from pathlib import Path

from deploysmith.detect import static
from deploysmith.detect.base import Strength
from deploysmith.model import Component, Evidence

from .conftest import detect, only, run_plugin

PAGE = "<!DOCTYPE html>\n<html>\n<body>hello</body>\n</html>\n"


def test_plain_static_site_is_a_component(repo_root: Path) -> None:
    stack = detect(repo_root, {"index.html": PAGE, "style.css": "body {}\n"})
    assert only(stack) == Component(
        name="shop",
        path=".",
        kind="static",
        language=None,
        build_output=".",
        evidence={"build_output": (Evidence("index.html", 1, "<!DOCTYPE html>"),)},
    )


def test_static_site_in_a_subfolder_is_named_after_it(repo_root: Path) -> None:
    stack = detect(repo_root, {"site/index.html": PAGE, "README.md": "# shop\n"})
    assert (only(stack).name, only(stack).path) == ("site", "site")


def test_static_is_assets_strength(tmp_path: Path) -> None:
    detection = run_plugin(static, tmp_path, {"index.html": PAGE})
    assert detection is not None and detection.strength == Strength.ASSETS


def test_a_folder_with_a_package_json_is_left_to_node(tmp_path: Path) -> None:
    assert run_plugin(static, tmp_path, {"index.html": PAGE, "package.json": "{}"}) is None


def test_templates_are_not_sites(tmp_path: Path) -> None:
    assert run_plugin(static, tmp_path, {"templates/index.html": PAGE}, "templates") is None
    assert run_plugin(static, tmp_path / "b", {"index.html": "<h1>{{ title }}</h1>\n"}) is None


def test_a_server_in_the_same_folder_wins(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "index.html": PAGE,
            "requirements.txt": "flask\ngunicorn\n",
            "app.py": "from flask import Flask\napp = Flask(__name__)\n",
        },
    )
    assert only(stack).framework == "flask"
    assert stack.warnings == ()


def test_pages_inside_a_server_folder_belong_to_the_server(repo_root: Path) -> None:
    stack = detect(
        repo_root,
        {
            "package.json": '{"scripts": {"start": "node server.js"}, "dependencies": {"express": "4"}}',
            "server.js": "app.use(express.static('public'));\napp.listen(3000);\n",
            "public/index.html": PAGE,
            "www/about/index.html": PAGE,
        },
    )
    assert [(c.name, c.framework) for c in stack.components] == [("shop", "express")]
