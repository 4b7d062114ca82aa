"""Every reference to the method documentation resolves, and nothing points outside the repository.

Code comments, docstrings and configs cite the documentation as ``docs/<file>.md §N.M``; inside
``docs/`` the pages cite each other as ``<file>.md §N.M`` or, within one page, as ``§N.M``. A cited
file must exist and a cited section must be a numbered heading of that file (``## 2. ...``,
``### 2.3 ...``). References to notes that live outside this repository (the method notes the
toolkit was first written from, the design notes of the build machine) are errors: a reader of the
repository cannot follow them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Text files whose references are checked (others - audio, trn fixtures - hold none).
SUFFIXES = {".py", ".yaml", ".yml", ".sh", ".md", ".toml", ".ini", ".cfg", ".txt"}
SKIP_DIRS = {".git", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", "build", "dist"}

# A heading with a section number: "## 2. Title" or "### 2.3 Title".
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s")
# A Markdown file named in text: docs/cif.md, or cif.md inside docs/.
MD_FILE = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.md)\b")
# Section numbers, optionally after a file: "docs/cif.md §2.3", "training.md §6, §7 and §8", "§4".
SECTIONS = re.compile(
    r"(?:(?<![\w./-])(?P<file>(?:[\w-]+/)*[\w-]+\.md)[ \t]*)?"
    r"(?P<secs>§\s?\d+(?:\.\d+)*(?:(?:,\s*|\s+and\s+)§\s?\d+(?:\.\d+)*)*)"
)
SECTION_NUMBER = re.compile(r"§\s?(\d+(?:\.\d+)*)")

# Written in pieces so that this file does not itself match the repository-wide grep for them.
_NOTES = "MET" + "HOD"
_SHARED = "sha" + "red"
OUTSIDE = [
    (re.compile(rf"\b{_NOTES}\b"), f"cites the {_NOTES} notes, which are not in this repository"),
    (re.compile(rf"(?:\.\./)+{_SHARED}\b"), f"points to ../{_SHARED}, outside this repository"),
    (re.compile(r"/work/(?:main|wt|" + _SHARED + r")\b"), "names a path on the build machine"),
    (
        re.compile(rf"{_SHARED}/[\w./-]+"),
        f"points into a {_SHARED}/ directory, outside this repository",
    ),
]
# Notes of the build machine that the code once cited by bare name.
OUTSIDE_NOTES = re.compile(r"(?<![\w./-])((?:DESIGN|STYLE)\.md)\b")


def repository_files(root: Path) -> list[Path]:
    """Files of the working tree that git tracks or would track (untracked, not ignored); when
    ``root`` is not a git checkout, every file below it outside ``SKIP_DIRS``."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(root).parts)
        )
    names = [n for n in out.decode("utf-8").split("\0") if n]
    return sorted(root / n for n in dict.fromkeys(names) if (root / n).is_file())


def doc_sections(path: Path) -> list[str]:
    """The section numbers of the numbered headings of a Markdown file, in order."""
    numbers = []
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and (m := HEADING.match(line)):
            numbers.append(m.group(1))
    return numbers


def _resolve(name: str, source: Path, root: Path) -> Path:
    """A bare ``x.md`` inside ``docs/`` is relative to the citing page; a path with a directory
    (``docs/x.md``, ``egs2/.../RESULTS.md``) is relative to the repository root."""
    if "/" not in name and source.parent.is_relative_to(root / "docs"):
        return source.parent / name
    return root / name


def check_references(root: Path, files: list[Path] | None = None) -> list[str]:
    """Every problem with documentation references in ``files`` (default: the repository's).

    Returns:
        One ``path:line: message`` string per problem; empty when every reference resolves.
    """
    if files is None:
        files = repository_files(root)
    sections: dict[Path, set[str]] = {}

    def known(doc: Path) -> set[str]:
        if doc not in sections:
            sections[doc] = set(doc_sections(doc))
        return sections[doc]

    problems = []
    for path in files:
        if path.suffix not in SUFFIXES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        rel = path.relative_to(root)
        in_docs = path.parent.is_relative_to(root / "docs")
        for lineno, line in enumerate(text.splitlines(), 1):
            where = f"{rel}:{lineno}"
            for pattern, message in OUTSIDE:
                if pattern.search(line):
                    problems.append(f"{where}: {message}: {line.strip()}")
            for m in OUTSIDE_NOTES.finditer(line):
                if not (root / m.group(1)).is_file() and not (path.parent / m.group(1)).is_file():
                    problems.append(f"{where}: cites {m.group(1)}, which is not in this repository")
            for m in MD_FILE.finditer(line):
                name = m.group(1)
                if not (name.startswith("docs/") or in_docs):
                    continue
                if not _resolve(name, path, root).is_file():
                    problems.append(f"{where}: {name} does not exist")
            for m in SECTIONS.finditer(line):
                name = m.group("file")
                if name is None:
                    if not in_docs:
                        problems.append(
                            f"{where}: section reference without a file; write "
                            f"docs/<file>.md {m.group('secs').split(',')[0]}"
                        )
                        continue
                    doc = path
                elif name.startswith("docs/") or in_docs:
                    doc = _resolve(name, path, root)
                else:
                    problems.append(f"{where}: {name} {m.group('secs')}: cite a file in docs/")
                    continue
                if not doc.is_file():
                    continue  # reported above as a missing file
                for number in SECTION_NUMBER.findall(m.group("secs")):
                    if number not in known(doc):
                        problems.append(f"{where}: {doc.relative_to(root)} has no section {number}")
    return problems


# ---------------------------------------------------------------------------------------------
def _repository_files_but_this() -> list[Path]:
    # This file plants bad references on purpose (below).
    return [p for p in repository_files(REPO) if p != Path(__file__).resolve()]


def test_every_reference_in_the_repository_resolves():
    problems = check_references(REPO, _repository_files_but_this())
    assert not problems, "broken or outside references:\n" + "\n".join(problems)


def test_the_code_cites_the_docs():
    # The check above is only meaningful if the code does cite the documentation.
    cited = [
        p
        for p in _repository_files_but_this()
        if p.suffix in {".py", ".yaml", ".sh"} and "docs/" in p.read_text(encoding="utf-8")
    ]
    assert len(cited) >= 30, [str(p.relative_to(REPO)) for p in cited]


def test_section_numbers_are_unique_within_each_page():
    pages = sorted((REPO / "docs").glob("*.md"))
    assert {p.name for p in pages} >= {"README.md", "cif.md", "differences.md"}
    for page in pages:
        numbers = doc_sections(page)
        assert numbers, f"{page.name} has no numbered section"
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        assert not duplicates, f"{page.name}: section numbers used twice: {duplicates}"


def _tree(tmp_path: Path, code: str) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cif.md").write_text(
        "# CIF\n\n## 1. The loop\n\n### 1.1 Threshold\n\nSee §1.1 and losses.md §2.\n\n"
        "```\n## 9. not a heading inside a code block\n```\n",
        encoding="utf-8",
    )
    (docs / "losses.md").write_text("# Losses\n\n## 2. CE\n", encoding="utf-8")
    source = tmp_path / "pkg" / "mod.py"
    source.parent.mkdir()
    source.write_text(code, encoding="utf-8")
    return tmp_path, source


def test_good_references_pass(tmp_path):
    root, source = _tree(
        tmp_path,
        '"""The loop (docs/cif.md §1, §1.1 and §1); see docs/losses.md."""\n'
        "# README.md is not a docs reference\n",
    )
    assert check_references(root, [source, *sorted((root / "docs").glob("*.md"))]) == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("# docs/cif.md §2.3", "docs/cif.md has no section 2.3"),
        ("# docs/cif.md §1.1, §9", "docs/cif.md has no section 9"),
        ("x = 1  # docs/nope.md §1", "docs/nope.md does not exist"),
        ("# see §1.1", "section reference without a file"),
        (f"# as in {_NOTES} 1.4", f"cites the {_NOTES} notes"),
        (f"# ({_NOTES}.md section 2)", f"cites the {_NOTES} notes"),
        (f"# see ../{_SHARED}/DESIGN.md", f"points to ../{_SHARED}"),
        ("# the allocator setting of DESIGN.md", "cites DESIGN.md, which is not in this"),
    ],
)
def test_a_planted_bad_reference_fails(tmp_path, line, message):
    root, source = _tree(tmp_path, f'"""A module."""\n\n{line}\n')
    problems = check_references(root, [source])
    assert problems, f"not caught: {line}"
    assert problems[0].startswith("pkg/mod.py:3: ")
    assert any(message in p for p in problems), problems


def test_a_bad_reference_inside_docs_fails(tmp_path):
    root, _ = _tree(tmp_path, "")
    page = root / "docs" / "cif.md"
    page.write_text(
        "# CIF\n\n## 1. The loop\n\nSee §1.2, losses.md §3 and [x](missing.md).\n",
        encoding="utf-8",
    )
    assert check_references(root, [page]) == [
        "docs/cif.md:5: missing.md does not exist",
        "docs/cif.md:5: docs/cif.md has no section 1.2",
        "docs/cif.md:5: docs/losses.md has no section 3",
    ]
