"""Rule synthetic_video: generate a seeded demo scene (video + ground truth)."""

from snakeherd import io
from snakeherd.scripting import logger, run_rule
from snakeherd.synthetic import SceneSpec, count_crossings, simulate, write_video


def main(smk):
    spec = SceneSpec.from_config(smk.params.scene)
    ground_truth = simulate(spec)
    write_video(spec, ground_truth, smk.output.video)
    crossings = count_crossings(ground_truth)
    io.write_table(
        ground_truth,
        smk.output.ground_truth,
        "ground_truth",
        {"method": "synthetic", "scene": spec.__dict__, "crossings": crossings},
    )
    logger.info(
        "%d animals, %d frames of %dx%d, %d crossings",
        spec.n_animals,
        spec.n_frames,
        spec.width,
        spec.height,
        crossings,
    )


run_rule(main, snakemake)  # noqa: F821
