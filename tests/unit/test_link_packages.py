"""tools/link-packages.py: the SLEAP test environment takes the main one's torch as hard links."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "link-packages.py"


def distribution(site: Path, name: str, requires: list[str], files: list[str]) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    metadata = [f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"]
    metadata += [f"Requires-Dist: {requirement}\n" for requirement in requires]
    (info / "METADATA").write_text("".join(metadata))
    for file in files:
        (site / file).parent.mkdir(parents=True, exist_ok=True)
        (site / file).write_text(f"{name}: {file}")
    record = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD", "../../../bin/tool"]
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in record))


def test_a_package_and_what_it_requires_with_its_extras_are_linked_nothing_else(tmp_path):
    source = tmp_path / "source" / "lib" / "python3.11" / "site-packages"
    target = tmp_path / "target" / "lib" / "python3.11" / "site-packages"
    distribution(source, "torch", ["toolkit[blas]==1.0", "unused; extra == 'dev'"],
                 ["torch/__init__.py"])  # fmt: skip
    distribution(source, "toolkit", ["blas==1.0; extra == 'blas'", "fft; extra == 'fft'"],
                 ["toolkit/__init__.py"])  # fmt: skip
    for name in ("blas", "fft", "unused", "other"):
        distribution(source, name, [], [f"{name}/lib.so"])
    target.mkdir(parents=True)
    (target / "torch").mkdir()
    (target / "torch" / "__init__.py").write_text("already here")
    done = subprocess.run(
        [sys.executable, str(TOOL), str(tmp_path / "source"), str(tmp_path / "target"), "torch"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "3 distributions" in done.stdout
    linked = {path.parent.name for path in target.glob("*/*") if path.suffix in (".py", ".so")}
    assert linked == {"torch", "toolkit", "blas"}
    assert (target / "torch" / "__init__.py").read_text() == "already here"  # left alone
    origin, copy = source / "blas" / "lib.so", target / "blas" / "lib.so"
    assert copy.stat().st_ino == origin.stat().st_ino  # a link, not a copy
    assert (target / "toolkit-1.0.dist-info" / "RECORD").is_file()  # pip sees it installed
    assert not (tmp_path / "target" / "bin").exists()  # nothing outside site-packages
