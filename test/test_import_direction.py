"""Imports between the subpackages of ``cifasr`` follow the data flow, one way.

Training: wav -> fbank -> dataset -> model -> loss; inference: feats -> encoder -> CIF -> search
-> text -> score. Every subpackage (and each module directly under ``cifasr/``) has a rank; a
module may import ``cifasr.<other>`` only when ``<other>`` has a LOWER rank. Packages of one rank
are independent of each other, so no two packages can import each other (no cycle), and nothing
imports ``cifasr.bin`` (the command-line glue, the highest rank).

====  ==========================================  ==============================================
rank  packages                                    what they are
====  ==========================================  ==============================================
0     ``utils``, ``nn``, ``interfaces``,          config/CLI helpers, precision; shared layers;
      ``version``                                 what the model's parts hand each other
1     ``cifasr/__init__.py``, ``frontend``        the version; wav -> fbank, CMVN, SpecAugment
2     ``data``                                    Kaldi files, tokens, datasets, batching
3     ``corpus``, ``encoder``, ``cif``,           corpus synthesis; the model's parts; teacher
      ``decoder``, ``distill``                    features and the distillers
4     ``models``, ``lm``                          the CIF ASR model and its losses; the LM
5     ``search``, ``train``, ``scoring``          beam/greedy search; the training loop;
                                                  sclite-style scoring
6     ``tasks``                                   config -> model, optimiser, trainer options
7     ``inference``                               checkpoint -> Speech2Text, recognize()
8     ``export``                                  ONNX graphs of a trained model
9     ``recipe``                                  recipe orchestration (run-once stamps)
10    ``bin``                                     ``python -m cifasr.bin.*`` entry points
====  ==========================================  ==============================================

Every import counts: module-level, function-local, under ``if TYPE_CHECKING``, relative, and
``importlib.import_module("cifasr....")`` with a literal name. A new subpackage must be given a
rank here (and in docs/README.md §2) before it may be imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

RANKS: dict[str, int] = {
    "utils": 0,
    "nn": 0,
    "interfaces": 0,
    "version": 0,
    "__init__": 1,
    "frontend": 1,
    "data": 2,
    "corpus": 3,
    "encoder": 3,
    "cif": 3,
    "decoder": 3,
    "distill": 3,
    "models": 4,
    "lm": 4,
    "search": 5,
    "train": 5,
    "scoring": 5,
    "tasks": 6,
    "inference": 7,
    "export": 8,
    "recipe": 9,
    "bin": 10,
}


def _module_name(path: Path, package_dir: Path) -> tuple[str, ...]:
    """``cifasr/models/cif_asr.py`` -> ("cifasr", "models", "cif_asr"); a package's
    ``__init__.py`` -> the package's name parts."""
    parts = (package_dir.name, *path.relative_to(package_dir).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" and len(parts) > 2 else parts


def imported_modules(path: Path, package_dir: Path) -> list[tuple[int, str]]:
    """Every ``cifasr...`` module that ``path`` imports anywhere in it, with its line.

    Args:
        path: a ``.py`` file below ``package_dir``.
        package_dir: the ``cifasr`` directory (relative imports are resolved against it).

    Returns:
        ``(line, dotted module name)`` pairs in file order.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_name(path, package_dir)
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                anchor = here if is_package else here[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            if node.module is None or base == package_dir.name:
                # `from cifasr import x` / `from . import x`: x may be a subpackage
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    root = package_dir.name
    return sorted(
        (line, name) for line, name in found if name == root or name.startswith(root + ".")
    )


def _unit(module: tuple[str, ...] | list[str]) -> str:
    """The ranked unit of a module: its subpackage, or the module directly under cifasr/."""
    return module[1] if len(module) > 1 else "__init__"


def import_violations(package_dir: Path, ranks: dict[str, int] = RANKS) -> list[str]:
    """Imports against the allowed direction, one message per import.

    Args:
        package_dir: the ``cifasr`` directory to check.
        ranks: unit -> rank (the table of the module docstring).

    Returns:
        ``"cifasr/models/x.py:12: models (rank 4) imports cifasr.search (rank 5) ..."`` messages;
        empty when every import goes to a lower rank.
    """
    problems: list[str] = []
    for path in sorted(package_dir.rglob("*.py")):
        where = path.relative_to(package_dir.parent)
        unit = _unit(_module_name(path, package_dir))
        if unit not in ranks:
            problems.append(f"{where}: package '{unit}' has no rank; add it to RANKS")
            continue
        for line, name in imported_modules(path, package_dir):
            target = _unit(name.split("."))
            if target == unit:
                continue
            if target not in ranks:
                problems.append(f"{where}:{line}: imports {name}, whose package has no rank")
            elif ranks[target] >= ranks[unit]:
                problems.append(
                    f"{where}:{line}: {unit} (rank {ranks[unit]}) imports {name} "
                    f"(rank {ranks[target]}); imports must go to a lower rank"
                )
    return problems


def test_cifasr_imports_follow_the_data_flow():
    assert import_violations(REPO / "cifasr") == []


def test_every_subpackage_has_a_rank():
    units = {p.name for p in (REPO / "cifasr").iterdir() if (p / "__init__.py").is_file()}
    units |= {p.stem for p in (REPO / "cifasr").glob("*.py")}
    assert units == set(RANKS)


def _plant(root: Path, relative: str, text: str) -> None:
    path = root / "cifasr" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(root).parents:
        if parent != Path("."):
            (root / parent / "__init__.py").touch()
    path.write_text(text, encoding="utf-8")


def test_a_planted_back_import_fails_the_check(tmp_path):
    # allowed: down the ranks, within a package, relative within a package
    _plant(tmp_path, "models/ok.py", "from cifasr.cif import cif\nfrom .losses import CTC\n")
    _plant(tmp_path, "inference/ok.py", "import cifasr.search.beam_search\n")
    assert import_violations(tmp_path / "cifasr") == []
    # against the flow: at module level, inside a function, relative, by importlib, the CLI
    _plant(
        tmp_path,
        "models/planted.py",
        "import importlib\n"
        "def decode():\n"
        "    from cifasr.search import beam_search\n"
        "    return importlib.import_module('cifasr.inference.recognize')\n",
    )
    _plant(tmp_path, "train/planted.py", "from ..bin import _common\n")
    _plant(tmp_path, "distill/planted.py", "from cifasr import models\n")
    _plant(tmp_path, "frontend/planted.py", "from cifasr.data import kaldi_files\n")
    _plant(tmp_path, "newpkg/planted.py", "x = 1\n")
    problems = import_violations(tmp_path / "cifasr")
    assert problems == [
        "cifasr/distill/planted.py:1: distill (rank 3) imports cifasr.models (rank 4); "
        "imports must go to a lower rank",
        "cifasr/frontend/planted.py:1: frontend (rank 1) imports cifasr.data (rank 2); "
        "imports must go to a lower rank",
        "cifasr/models/planted.py:3: models (rank 4) imports cifasr.search (rank 5); "
        "imports must go to a lower rank",
        "cifasr/models/planted.py:4: models (rank 4) imports cifasr.inference.recognize "
        "(rank 7); imports must go to a lower rank",
        "cifasr/newpkg/__init__.py: package 'newpkg' has no rank; add it to RANKS",
        "cifasr/newpkg/planted.py: package 'newpkg' has no rank; add it to RANKS",
        "cifasr/train/planted.py:1: train (rank 5) imports cifasr.bin (rank 10); "
        "imports must go to a lower rank",
    ]


def test_same_rank_packages_may_not_import_each_other(tmp_path):
    _plant(tmp_path, "encoder/planted.py", "from cifasr.decoder.layers import DecoderLayer\n")
    assert import_violations(tmp_path / "cifasr") == [
        "cifasr/encoder/planted.py:1: encoder (rank 3) imports cifasr.decoder.layers (rank 3); "
        "imports must go to a lower rank"
    ]
