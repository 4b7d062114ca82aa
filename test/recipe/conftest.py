"""Fixtures of the recipe tests."""

from __future__ import annotations

import importlib.util
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
