"""Rule provenance: record what produced one video's results folder."""

from snakeherd import io
from snakeherd.provenance import build_provenance, dumps
from snakeherd.scripting import run_rule

TABLES = ("detections", "poses", "tracks", "evaluation")
INPUTS = ("video", "predictions")


def main(smk):
    results = {name: path for name, path in smk.input.items() if name not in INPUTS}
    record = build_provenance(
        experiment=smk.params.config["experiment"],
        video_id=smk.wildcards.video,
        config={**smk.params.config, "video": smk.params.entry},
        inputs={
            "video": smk.input.get("video") or None,
            "predictions": smk.input.get("predictions") or None,
            "ground_truth": smk.params.ground_truth,
            **smk.params.models,
        },
        tables={name: path for name, path in results.items() if name in TABLES},
        outputs=results,
        workflow_dir=smk.params.workflow_dir,
    )
    io.write_text_atomic(smk.output[0], dumps(record))


run_rule(main, snakemake)  # noqa: F821
