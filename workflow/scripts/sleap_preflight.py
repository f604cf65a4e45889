"""Rule sleap_preflight, run by the SLEAP environment's Python: can it run the runtime here?

python sleap_preflight.py --runtime R --output preflight.json --log LOG
"""

import json
from pathlib import Path

from snakeherd import runtimes
from snakeherd.scripting import logger, run_command
from snakeherd.sleap import commands


def main(args):
    from snakeherd.sleap.preflight import run_preflight

    report = run_preflight(args.runtime)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    logger.info(
        "SLEAP environment %s can run '%s': %s", report["python"], args.runtime, report["versions"]
    )


if __name__ == "__main__":
    arguments = commands.parser(__doc__.splitlines()[0])
    arguments.add_argument("--output", required=True)
    args = arguments.parse_args()
    # Before any framework import: CPU runtimes never see an accelerator.
    runtimes.prepare_process(args.runtime)
    run_command(main, args, "sleap_preflight")
