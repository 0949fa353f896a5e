# SPDX-License-Identifier: Apache-2.0
"""The package's docstrings and comments, and the public C++ headers, cite pages users have:
every ``docs/<file>`` named in python/dsstne, cpp/include (and README.md) exists, and none of
them cites ``spec/``, the development checkout's reference that users never see."""

import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = REPO / "python" / "dsstne"
HEADERS = REPO / "cpp" / "include"
SOURCES = (".py", ".pyx", ".pxi", ".pyi", ".pxd", ".hpp", ".inc")
DOCS_REF = re.compile(r"\bdocs/([\w.-]+)")
SPEC_REF = re.compile(r"\bspec/[\w.-]*")

def sources():
    return sorted(p for root in (PACKAGE, HEADERS) for p in root.rglob("*")
                  if p.suffix in SOURCES and p.is_file())


def test_there_are_sources_to_scan():
    names = {p.name for p in sources()}
    assert {"__init__.py", "cdl.py", "common.py", "files.py"} <= names


def test_every_docs_file_named_exists():
    missing = []
    for path in sources() + [REPO / "README.md"]:
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in DOCS_REF.findall(line):
                name = name.rstrip(".")
                if not (REPO / "docs" / name).is_file():
                    missing.append(f"{path.relative_to(REPO)}:{no}: docs/{name}")
    assert not missing, "named but not in docs/:\n" + "\n".join(missing)


def test_no_spec_citations_remain():
    found = []
    for path in sources():
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SPEC_REF.search(line):
                found.append(f"{path.relative_to(REPO)}:{no}: {line.strip()}")
    assert not found, ("cite the docs/ page that holds the fact instead:\n" + "\n".join(found))
