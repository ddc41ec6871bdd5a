"""The package layout: data flows one way through src/mrissl (ARCHITECTURE.md).

- the shared layer never imports a study package;
- a study package never imports another study;
- ``phantoms`` (synthetic raw data) imports no study and no curation;
- ``readers`` (real data) never imports ``phantoms``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

STUDIES = ("seqclass", "reportcl", "longitudinal", "clip")


def imported_modules(path: Path, package: str) -> set[str]:
    """The ``mrissl`` packages (``mrissl.x``) that the file at ``path`` imports from, wherever the import is;
    ``package`` is the file's own package, to resolve relative imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found |= {f"{module}.{alias.name}" for alias in node.names}
    # One entry per package of mrissl (mrissl.x), however many names come from it.
    return {".".join(name.split(".")[:2]) for name in found if name.startswith("mrissl.")}


def layer(module: str) -> str:
    """'study:<name>', 'phantoms', 'readers' or 'shared' for a dotted mrissl module name."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top in STUDIES:
        return f"study:{top}"
    return top if top in ("phantoms", "readers") else "shared"


def violations(src: Path) -> list[str]:
    """One line per import that runs against the data flow, for the package tree under ``src``."""
    found = []
    for path in sorted(src.rglob("*.py")):
        module = ".".join(path.relative_to(src.parent).with_suffix("").parts).removesuffix(".__init__")
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        here = layer(module)
        for imported in sorted(imported_modules(path, package)):
            there = layer(imported)
            if there.startswith("study:") and there != here:
                found.append(f"{module} imports {imported}: "
                             + ("a study imports another study" if here.startswith("study:")
                                else "the shared layer imports a study"))
            elif imported.split(".")[1:2] == ["curate"] and here == "phantoms":
                found.append(f"{module} imports {imported}: phantoms import curation")
            elif here == "readers" and there == "phantoms":
                found.append(f"{module} imports {imported}: real-data readers import the phantoms")
    return found


def test_src_imports_follow_the_layers():
    assert violations(REPO / "src" / "mrissl") == []


@pytest.mark.parametrize("where, source, message", [
    ("mrissl/tables.py", "from mrissl.seqclass import SEQUENCE_CLASSES\n", "the shared layer imports a study"),
    ("mrissl/clip/train.py", "def f():\n    from mrissl.reportcl.models import Encoder\n", "a study imports another study"),
    ("mrissl/clip/train.py", "from ..seqclass import losses\n", "a study imports another study"),
    ("mrissl/phantoms/spine.py", "import mrissl.longitudinal.curation\n", "the shared layer imports a study"),
    ("mrissl/phantoms/spine.py", "from mrissl.curate import vertebrae\n", "phantoms import curation"),
    ("mrissl/readers/rows.py", "from mrissl.phantoms.dicom import write_series\n", "real-data readers import the phantoms"),
])
def test_checker_finds_each_kind_of_violation(tmp_path, where, source, message):
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    path.write_text(source)
    (found,) = violations(tmp_path / "mrissl")
    assert message in found


def test_checker_allows_the_permitted_directions(tmp_path):
    for where, source in [("mrissl/clip/train.py", "from mrissl.contrastive import clip_loss\nfrom . import models\n"),
                          ("mrissl/phantoms/tumour.py", "from mrissl.vocabulary import MARKERS\n"),
                          ("mrissl/readers/rows.py", "from mrissl.geometry import LPS_TO_RAS\n")]:
        path = tmp_path / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    assert violations(tmp_path / "mrissl") == []
