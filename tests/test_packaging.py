"""What a wheel and an sdist built from this tree carry: the license, and a long description
that reads well on PyPI (absolute links, no repository scripts)."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)]+)\)")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """``python -m build`` (sdist, then a wheel from it) with the venv's hatchling."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    yield wheel, sdist


def test_the_license_is_in_the_wheel_and_the_sdist(built: tuple[Path, Path]) -> None:
    wheel, sdist = built
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License\n\nCopyright (c) 2026 the realtime authors\n")
    with zipfile.ZipFile(wheel) as archive:
        (inside,) = [name for name in archive.namelist() if name.endswith("/licenses/LICENSE")]
        assert archive.read(inside).decode() == license_text
        metadata_file = inside.replace("licenses/LICENSE", "METADATA")
        metadata = email.message_from_bytes(archive.read(metadata_file))
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(f"{sdist.name.removesuffix('.tar.gz')}/LICENSE")
        assert member is not None and member.read().decode() == license_text


def test_the_long_description_is_the_pypi_page(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(name))
    description = metadata.get_payload()
    assert isinstance(description, str)
    assert description.strip() == (ROOT / "docs" / "pypi.md").read_text().strip()
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "scripts/" not in description
    links = LINK.findall(description)
    assert len(links) >= 5
    for link in links:
        assert link.startswith("https://"), f"a relative link breaks on PyPI: {link}"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_pypi_page_shows_the_readmes_example() -> None:
    readme = python_blocks((ROOT / "README.md").read_text())
    pypi = python_blocks((ROOT / "docs" / "pypi.md").read_text())
    assert pypi[0] == readme[0]
