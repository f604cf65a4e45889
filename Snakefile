# snakeherd: videos of animals -> detections -> tracks -> evaluation, one DAG per video.
# Run `snakemake --cores all` for the embedded demo, or add `--configfile your.yaml`.
from snakemake.utils import min_version

min_version("9.0")


# The default config is the embedded demo; a config given on the command line replaces it
# rather than being merged into it, so demo keys never leak into a user's run.
if not workflow.config_settings.configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/detect.smk"
include: "workflow/rules/predictions.smk"
include: "workflow/rules/pose.smk"


if config["pose"]["method"] == "sleap":

    include: "workflow/rules/sleap_common.smk"
    include: "workflow/rules/sleap.smk"


include: "workflow/rules/track.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/provenance.smk"


rule all:
    default_target: True
    input:
        final_outputs(),


onsuccess:
    report_success()
