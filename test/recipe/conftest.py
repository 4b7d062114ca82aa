"""Fixtures of the recipe tests."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def fake_aishell() -> ModuleType:
    """make_fake_aishell.py beside this file, loaded by path (pytest runs in importlib mode,
    where a test cannot import a sibling module)."""
    spec = importlib.util.spec_from_file_location(
        "make_fake_aishell", Path(__file__).with_name("make_fake_aishell.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the module executes.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recipe_copy(tmp_path_factory: pytest.TempPathFactory):
    """A function: ``recipe_copy("aishell")`` copies egs2/<name>/asr1 (without its generated
    data, dump, exp, downloads and RESULTS.md) into a scratch tree where tools, utils and
    egs2/TEMPLATE are links to this checkout, and returns the copied recipe directory."""
    repo = Path(__file__).resolve().parents[2]

    def copy(name: str) -> Path:
        root = tmp_path_factory.mktemp("tree")
        for sub in ("tools", "utils"):
            (root / sub).symlink_to(repo / sub)
        (root / "egs2" / name).mkdir(parents=True)
        (root / "egs2" / "TEMPLATE").symlink_to(repo / "egs2" / "TEMPLATE")
        recipe_dir = root / "egs2" / name / "asr1"
        shutil.copytree(
            repo / "egs2" / name / "asr1",
            recipe_dir,
            ignore=shutil.ignore_patterns("data", "dump", "exp", "downloads", "RESULTS.md"),
        )
        return recipe_dir

    return copy
