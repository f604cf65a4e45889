"""Name the file, line and column of a YAML error in config files (``make check-config``).

Snakemake reads a ``--configfile`` itself, before the workflow starts, and says only that it is
"not valid JSON or YAML"; this says where and why.

    .venv/bin/python workflow/scripts/check_config_yaml.py your.yaml [more.yaml ...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from snakeherd.config import yaml_problem


def main(paths: list[str]) -> int:
    problems = [problem for path in paths if (problem := yaml_problem(path))]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{', '.join(paths)}: valid YAML")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["config/config.yaml"]))
