# snakeherd: videos of animals -> detections -> tracks -> evaluation, one DAG per video.
# Run `snakemake --cores all` for the embedded demo, or add `--configfile your.yaml`.
from snakemake.utils import min_version

min_version("9.0")


# `snakemake --report report.html` opens on this text; the plots and tables it shows are the
# outputs flagged with report() in the rules.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# A config with `experiments` runs this workflow once per variant (experiments.smk).
if EXPERIMENTS:

    include: "workflow/rules/experiments.smk"

else:

    include: "workflow/rules/synthetic.smk"
    include: "workflow/rules/export.smk"
    include: "workflow/rules/detect.smk"
    include: "workflow/rules/predictions.smk"
    include: "workflow/rules/pose.smk"
    include: "workflow/rules/chunks.smk"

    if config["pose"]["method"] == "sleap":

        include: "workflow/rules/sleap_common.smk"
        include: "workflow/rules/sleap.smk"
    include: "workflow/rules/track.smk"
    include: "workflow/rules/evaluate.smk"
    include: "workflow/rules/provenance.smk"
    include: "workflow/rules/overlay.smk"
    include: "workflow/rules/analysis_files.smk"
    include: "workflow/rules/proofreading.smk"
    include: "workflow/rules/plots.smk"
    include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        experiment_outputs() if EXPERIMENTS else final_outputs(),


onsuccess:
    if not EXPERIMENTS:
        report_success()


onerror:
    if not EXPERIMENTS:
        write_batch_pages_after_failure()
