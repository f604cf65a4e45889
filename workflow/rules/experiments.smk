# Experiments: this workflow once per variant, as a Snakemake module with the variant's config.
# Variants with the same upstream key (snakeherd.experiments) share the stages before tracking:
# those rules come from the first such variant only, and write under results/<experiment>/shared/.
import yaml

from snakeherd import experiments as experiment_variants

UPSTREAM_RULE_FILES = (
    "export.smk",
    "detect.smk",
    "predictions.smk",
    "pose.smk",
    "chunks.smk",
    "sleap_common.smk",
    "sleap.smk",
)


def upstream_rule_names():
    """Every rule the stages before tracking may define, read from their rule files."""
    names = {"export_yolo_obb", "export_yolo_pose"}  # named in a loop in export.smk
    for name in UPSTREAM_RULE_FILES:
        text = (Path(workflow.basedir) / "workflow" / "rules" / name).read_text()
        names.update(re.findall(r"^\s*rule (\w+):", text, flags=re.MULTILINE))
    return sorted(names)


VARIANT_VIDEOS = {}  # variant name -> its checked video entries, for its module


def validate_variant(name, variant_config):
    """A variant is judged as a config of its own; a rejection names it."""
    where = f"experiments variant {name!r}:"
    problem = schema_problem(
        variant_config, "../../config/schemas/config.schema.yaml", "config"
    )
    if problem:
        raise ConfigError(f"{where} {problem}")
    try:
        # Variants share the videos: the sample sheet common.smk read and checked.
        entries = check_config(variant_config, SAMPLE_SHEET)
        VARIANT_VIDEOS[name] = {entry.id: entry for entry in entries}
    except ConfigError as error:
        raise ConfigError(f"{where} {error.problem}", error.fix) from None


try:
    VARIANTS = experiment_variants.expand(
        config,
        yaml.safe_load(
            (Path(workflow.basedir) / "config/schemas/config.schema.yaml").read_text()
        ),
        validate_variant,
    )
except ConfigError as error:
    reject_config(str(error))

UPSTREAM_RULES = upstream_rule_names()
VARIANT_MODULES = {}  # variant name -> the module's namespace (its globals)
_upstream_owners = {}
_module_names = []
for variant in VARIANTS:
    module_name = experiment_variants.module_name(variant.name, set(_module_names))
    _module_names.append(module_name)
    exclude = list(UPSTREAM_RULES) if variant.upstream_key in _upstream_owners else []
    if _upstream_owners:  # every variant has the same videos
        exclude.append("synthetic_video")
    _upstream_owners.setdefault(variant.upstream_key, variant.name)
    workflow.module(
        module_name,
        snakefile=workflow.main_snakefile,
        config={
            **variant.config,
            "_variant": {
                "name": variant.name,
                "upstream": variant.upstream_key,
                "videos": VARIANT_VIDEOS[variant.name],
            },
        },
    )
    workflow.userule(
        rules=["*"],
        from_module=module_name,
        exclude_rules=exclude,
        name_modifier=f"{module_name}_*",
    )(None)
    VARIANT_MODULES[variant.name] = globals()[module_name]

# Variants with different upstream keys may still make one file: a YOLO or SLEAP model exported
# next to its source (onnx_cpu and tract run the same .onnx). The first variant's rule makes it.
for _rule in UPSTREAM_RULES:
    _owners = [
        f"{module}_{_rule}"
        for module in _module_names
        if workflow.is_rule(f"{module}_{_rule}")
    ]
    if len(_owners) > 1:
        workflow.ruleorder(*_owners)

# A module's `localrules:` (report.smk's batch_summary) names the rule without the module's prefix,
# so on a cluster each variant's batch pages would be a job of their own: they are local here.
workflow.localrules(
    *(
        f"{module}_batch_summary"
        for module in _module_names
        if workflow.is_rule(f"{module}_batch_summary")
    )
)


EXPERIMENT_FOLDER = f"results/{EXPERIMENT}"


def comparison_variants():
    """What the comparison reads of each variant (tracking variants only: it compares tracks)."""
    variants = []
    for variant in VARIANTS:
        namespace = VARIANT_MODULES[variant.name]
        if not namespace.TRACKING:
            continue
        max_tracks = variant.config["tracking"].get("max_tracks")
        variants.append(
            {
                "name": variant.name,
                "results": namespace.RESULTS,
                "upstream": namespace.UPSTREAM,
                "benchmarks": sorted(
                    {
                        namespace.BENCHMARKS,
                        namespace.UPSTREAM_BENCHMARKS,
                    }
                ),
                "videos": list(namespace.VIDEOS),
                "evaluated": namespace.evaluated_videos(),
                "suspects": namespace.PROOFREADING,
                "expected_count": max_tracks if isinstance(max_tracks, int) else None,
                "match_distance": variant.config["evaluation"]["match_distance"],
            }
        )
    return variants


def comparison_inputs():
    inputs = []
    for variant in comparison_variants():
        inputs += [
            f"{variant[folder]}/{video}/{name}"
            for video in variant["videos"]
            for folder, name in (
                ("results", "tracks.parquet"),
                ("upstream", "detections.parquet"),
                *([("results", "suspects.parquet")] if variant["suspects"] else []),
            )
        ]
        inputs += [
            f"{variant['results']}/{video}/evaluation.parquet"
            for video in variant["evaluated"]
        ]
    return inputs


def experiment_outputs():
    outputs = [f"{EXPERIMENT_FOLDER}/experiment.yaml"]
    for namespace in VARIANT_MODULES.values():
        outputs += namespace.final_outputs()
    if comparison_variants():
        outputs.append(f"{EXPERIMENT_FOLDER}/comparison.csv")
    return outputs


localrules:
    experiment_record,
    comparison,


# The config that ran, the workflow's revision and each variant's settings hash; a changed config
# (params) rewrites it.
rule experiment_record:
    output:
        f"{EXPERIMENT_FOLDER}/experiment.yaml",
    log:
        f"{EXPERIMENT_FOLDER}/logs/experiment_record.log",
    benchmark:
        f"{EXPERIMENT_FOLDER}/benchmarks/experiment_record.tsv"
    conda:
        CORE_ENV
    threads: 1
    # Writing one small file: sized as the smallest batch rule.
    resources:
        **job_sizing.rule_resources("evaluation_summary", config, VIDEOS),
    params:
        config={key: value for key, value in config.items()},
        variants=[
            {
                "name": variant.name,
                "overrides": variant.overrides,
                "settings_hash": variant.settings_hash,
                "upstream_key": variant.upstream_key,
                "results": VARIANT_MODULES[variant.name].RESULTS,
                "shared_results": VARIANT_MODULES[variant.name].UPSTREAM,
            }
            for variant in VARIANTS
        ],
        workflow_dir=workflow.basedir,
    script:
        "../scripts/experiment_record.py"


rule comparison:
    input:
        comparison_inputs(),
    output:
        csv=f"{EXPERIMENT_FOLDER}/comparison.csv",
        parquet=f"{EXPERIMENT_FOLDER}/comparison.parquet",
        plot=report(
            f"{EXPERIMENT_FOLDER}/comparison.png",
            caption="../report/comparison.rst",
            category="Experiment",
            labels={"figure": "comparison of variants"},
        ),
        page=report(
            f"{EXPERIMENT_FOLDER}/comparison.html",
            caption="../report/comparison_table.rst",
            category="Experiment",
            labels={"figure": "comparison table"},
        ),
    log:
        f"{EXPERIMENT_FOLDER}/logs/comparison.log",
    benchmark:
        f"{EXPERIMENT_FOLDER}/benchmarks/comparison.tsv"
    conda:
        CORE_ENV
    threads: 1
    # The batch pages' work: every video's tables and the benchmark files, once per variant.
    resources:
        **job_sizing.rule_resources("batch_summary", config, VIDEOS),
    params:
        variants=comparison_variants(),
    script:
        "../scripts/compare_variants.py"
