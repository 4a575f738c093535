"""The shape of the house: sub-packages by concern, imports only downward, no circles.

Every import in ``udabench/`` counts, wherever it stands (module level, inside a function,
under ``TYPE_CHECKING``): a lazy import that runs upward is still a circle waiting to happen.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import udabench

PACKAGE = Path(udabench.__file__).parent

#: sub-package -> the sub-packages it may import (besides itself). The order is the floors.
ALLOWED = {
    "contract": set(),
    "model": {"contract"},
    "data": {"contract"},
    "tracking": {"contract"},
    "protocol": {"contract", "model", "data", "tracking"},
    "sweep": {"contract", "protocol", "tracking"},
    "testing": {"contract", "model", "data", "protocol"},
    "cli": {"contract", "model", "data", "tracking", "protocol", "sweep", "testing"},
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The udabench modules a file imports, resolved to dotted names."""
    tree = ast.parse(path.read_text())
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "udabench"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "udabench":
                continue
            found.add(target)
            for alias in node.names:  # ``from . import hookspecs`` imports a module
                candidate = f"{target}.{alias.name}"
                if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists():
                    found.add(candidate)
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _sub(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def test_every_module_lives_in_a_sub_package():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert not loose, f"modules outside a sub-package: {loose}"
    subs = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert set(subs) == set(ALLOWED), f"sub-packages {subs} vs the layering table {sorted(ALLOWED)}"


def test_each_sub_package_says_what_lives_there_and_what_it_may_import():
    for sub in ALLOWED:
        doc = ast.get_docstring(ast.parse((PACKAGE / sub / "__init__.py").read_text())) or ""
        assert "May import" in doc, f"udabench/{sub}/__init__.py: its docstring must say what it may import"
        for other in ALLOWED[sub]:
            assert f"udabench.{other}" in doc or sub == "cli", \
                f"udabench/{sub}/__init__.py: the docstring does not name udabench.{other}, which it may import"


def test_imports_run_only_downward():
    bad = []
    for module, path in _modules().items():
        sub = _sub(module)
        if sub is None:
            continue  # udabench/__init__.py and __main__.py: the public face, lazy
        for target in _imports(path):
            other = _sub(target)
            if target in ("udabench", "udabench.__main__") or (other and other != sub and other not in ALLOWED[sub]):
                bad.append(f"{module} imports {target}")
    assert not bad, "imports that run upward or sideways:\n" + "\n".join(bad)


def test_no_import_circle_between_modules():
    graph = {m: {t for t in _imports(p) if t in _modules()} for m, p in _modules().items()}
    graph = {m: {t for t in ts if t != m} for m, ts in graph.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_layering_check_sees_a_violation(tmp_path, monkeypatch):
    """The checks above could fail: an upward import planted in a copy of a module is found."""
    fake = tmp_path / "udabench" / "contract"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from ..protocol.task import run_task\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "udabench")
    assert _imports(fake / "bad.py") == {"udabench.protocol.task"}


@pytest.mark.parametrize("sub", sorted(ALLOWED))
def test_each_sub_package_imports_alone(sub):
    """In a fresh interpreter, each sub-package's modules import without any other first; the
    contract (and ``udabench`` itself) without torch or MLflow."""
    modules = sorted(m for m in _modules() if _sub(m) == sub)
    code = "\n".join([f"import {m}" for m in modules] + [
        "import sys",
        "heavy = sorted(m for m in ('torch', 'mlflow', 'open_clip') if m in sys.modules)",
        "print(','.join(heavy))",
    ])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    if sub in ("contract", "cli"):
        assert out.stdout.strip() == "", f"importing udabench.{sub} pulled in {out.stdout.strip()}"


# -- the public face --------------------------------------------------------------------------------
REPO = PACKAGE.parent
#: Besides ``udabench`` itself, what a plugin or a script may import: the conformance kit and,
#: for scripts, the command line's ``main``.
PUBLIC_MODULES = {"udabench", "udabench.testing"}


def _public_face_violations(files) -> list[str]:
    bad = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("udabench.") and not alias.name.startswith("udabench_"):
                        bad.append(f"{path.relative_to(REPO)}:{node.lineno} imports {alias.name}")
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                module, names = node.module, [a.name for a in node.names]
                if module.split(".")[0] != "udabench":
                    continue
                if module == "udabench.cli" and names == ["main"]:
                    continue
                if module not in PUBLIC_MODULES:
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno} imports from {module}")
                elif module == "udabench":
                    bad += [f"{path.relative_to(REPO)}:{node.lineno} imports {n}, not in udabench.__all__"
                            for n in names if n not in udabench.__all__]
    return bad


def test_plugins_and_examples_import_only_the_public_face():
    files = sorted([*(REPO / "plugins").rglob("*.py"), *(REPO / "examples").rglob("*.py")])
    assert files, "no plugin files found"
    assert not _public_face_violations(files), "\n".join(_public_face_violations(files))


def test_the_public_face_check_finds_a_private_import(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    bad = tmp_path / "plugin.py"
    bad.write_text("from udabench.protocol.task import run_task\nfrom udabench import NotAName\n"
                   "from udabench import hookimpl\nfrom udabench.cli import main\n")
    assert _public_face_violations([bad]) == ["plugin.py:1 imports from udabench.protocol.task",
                                              "plugin.py:2 imports NotAName, not in udabench.__all__"]


def test_every_public_name_resolves_and_is_documented():
    guide = (REPO / "docs" / "plugins.md").read_text()
    for name in udabench.__all__:
        assert getattr(udabench, name) is not None
        assert f"`{name}`" in guide, f"docs/plugins.md does not list the public name {name}"
