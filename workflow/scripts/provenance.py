"""Rule provenance (runs without tracking): record what produced one video's results folder."""

from snakeherd.provenance import write_video_provenance
from snakeherd.scripting import run_rule


def main(smk):
    write_video_provenance(
        smk.output[0],
        config=smk.config,
        video_id=smk.wildcards.video,
        **smk.params.sources,
        results=dict(smk.input.items()),
        workflow_dir=smk.params.workflow_dir,
    )


run_rule(main, snakemake)  # noqa: F821
