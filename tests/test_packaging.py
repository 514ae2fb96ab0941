"""pyproject.toml declares what the code imports, with floors the suite runs on."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
DEPENDENCIES = {canonicalize_name(r.name): r for r in map(Requirement, PROJECT["dependencies"])}
# Imported only by the features of an extra: the local model, the Ray engine.
EXTRAS = {
    canonicalize_name(Requirement(r).name)
    for extra in ("local", "ray")
    for r in PROJECT["optional-dependencies"][extra]
}


def _imported_roots() -> set[str]:
    roots: set[str] = set()
    for path in (ROOT / "summarizer").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
    return roots - set(sys.stdlib_module_names) - {"summarizer", "__future__"}


def test_every_imported_distribution_is_declared() -> None:
    dists = packages_distributions()
    missing = {
        (root, canonicalize_name(dist))
        for root in _imported_roots()
        for dist in dists.get(root, [root])
        if canonicalize_name(dist) not in DEPENDENCIES and canonicalize_name(dist) not in EXTRAS
    }
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
    assert "httpx2" in DEPENDENCIES


def test_floors_are_the_tested_versions_and_instructor_has_a_ceiling() -> None:
    for name, req in DEPENDENCIES.items():
        assert req.specifier.contains(version(name)), f"installed {name} {version(name)} outside {req}"
    # A floor names a minor release of the installed major version: a newer minor release on
    # the registry (what a fresh install gets) keeps this test green; a floor above what is
    # installed, or of another major version, does not.
    for name in ("openai", "instructor", "pydantic", "httpx2"):
        installed = tuple(int(x) for x in version(name).split(".")[:2])
        floors = [s.version for s in DEPENDENCIES[name].specifier if s.operator == ">="]
        assert len(floors) == 1 and floors[0].count(".") == 1, f"{name}: floor {floors}, want MAJOR.MINOR"
        floor = tuple(int(x) for x in floors[0].split("."))
        assert floor[0] == installed[0] and floor <= installed, (
            f"{name}: floor {floors}, tested {version(name)}"
        )
    # instructor_shims.py patches instructor's internals: no unchecked minor release.
    ceilings = [s.version for s in DEPENDENCIES["instructor"].specifier if s.operator == "<"]
    major, minor = (int(x) for x in version("instructor").split(".")[:2])
    assert ceilings == [f"{major}.{minor + 1}"]


def test_the_html_cleaner_extra_is_declared() -> None:
    # trafilatura -> justext -> lxml.html.clean, a separate package since lxml 5.2.
    assert "html-clean" in {canonicalize_name(e) for e in DEPENDENCIES["lxml"].extras}
