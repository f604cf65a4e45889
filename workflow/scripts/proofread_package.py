"""Rule proofread_package: the suspect frames' images, predictions and suggestions as one SLEAP
package (.pkg.slp)."""

from snakeherd.proofreading.package import write_package
from snakeherd.scripting import logger, run_rule


def main(smk):
    frames = write_package(smk.input.tracks_slp, smk.input.video, smk.output[0])
    logger.info("%d suspect frames embedded in %s", frames, smk.output[0])


run_rule(main, snakemake)  # noqa: F821
