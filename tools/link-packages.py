#!/usr/bin/env python3
"""Link installed packages from one virtual environment into another of the same Python.

    tools/link-packages.py SOURCE_VENV TARGET_VENV DISTRIBUTION...

The named distributions installed in SOURCE_VENV, and those they require (but extras), have
their files under site-packages hard-linked into TARGET_VENV's, where none is yet: pip then
finds them installed and installs only what it lacks. The test environments pin the same torch build
(~5 GB with its CUDA libraries): linked, the second costs no disk. Scripts outside
site-packages are not linked (pip's entry points such as torchrun). A later `pip uninstall` in
either environment removes only its own links. Where the two cannot share files (another file
system), nothing is linked and pip installs as usual.
"""

import os
import re
import sys
from importlib import metadata
from pathlib import Path


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if len(found) != 1:
        raise SystemExit(f"{venv}: expected one lib/python*/site-packages, found {len(found)}")
    return found[0]


def required(distribution: metadata.Distribution, extras: set[str]) -> list[tuple[str, set]]:
    """What a distribution requires with ``extras`` (torch asks for CUDA libraries as extras
    of cuda-toolkit): each requirement's name and the extras it asks for."""
    found = []
    for requirement in distribution.requires or []:
        needs_extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
        if needs_extra and needs_extra.group(1) not in extras:
            continue
        name, asked = re.match(r"\s*([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?", requirement).groups()
        extras_asked = {extra.strip() for extra in (asked or "").split(",")} - {""}
        found.append((normalized(name), extras_asked))
    return found


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(source: str, target: str, *names: str) -> None:
    source_site, target_site = site_packages(Path(source)), site_packages(Path(target))
    installed = {
        normalized(distribution.metadata["Name"]): distribution
        for distribution in metadata.distributions(path=[str(source_site)])
    }
    wanted: dict[str, set] = {}  # name: the extras asked of it
    queue = [(normalized(name), set()) for name in names]
    while queue:
        name, extras = queue.pop()
        if name not in installed or (name in wanted and extras <= wanted[name]):
            continue
        wanted[name] = wanted.get(name, set()) | extras
        queue.extend(required(installed[name], wanted[name]))
    linked: list[Path] = []
    for name in sorted(wanted):
        for relative in installed[name].files or []:
            if relative.parts[0] == "..":
                continue
            origin, copy = source_site / relative, target_site / relative
            if not origin.is_file() or copy.exists():
                continue
            copy.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(origin, copy)
            except OSError as error:
                for made in linked:  # no package half there for pip to take as installed
                    made.unlink()
                print(f"link-packages: nothing linked ({error}); pip installs them instead")
                return
            linked.append(copy)
    print(
        f"link-packages: {len(linked)} files of {len(wanted)} distributions linked into "
        f"{target_site}: {', '.join(sorted(wanted))}"
    )


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
