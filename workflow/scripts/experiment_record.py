"""Rule experiment_record: the config that ran, the workflow's revision and each variant's
settings hash, beside the experiment's results (experiment.yaml)."""

import yaml

from snakeherd.io import write_text_atomic
from snakeherd.provenance import git_commit
from snakeherd.scripting import run_rule


def main(smk):
    record = {
        "workflow": {"path": smk.params.workflow_dir, **git_commit(smk.params.workflow_dir)},
        "variants": smk.params.variants,
        "config": smk.params.config,
    }
    write_text_atomic(smk.output[0], yaml.safe_dump(record, sort_keys=False))


run_rule(main, snakemake)  # noqa: F821
