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


def validate_variant(name, variant_config):
    """A variant is judged as a config of its own; a rejection names it."""
    where = f"experiments variant {name!r}:"
    try:
        validate(variant_config, schema="../../config/schemas/config.schema.yaml")
    except WorkflowError as error:
        cause = error.__context__
        if cause is None or not hasattr(cause, "validator"):
            raise ConfigError(f"{where} {error}") from None
        raise ConfigError(
            f"{where} " + describe_schema_error(cause, where="config")
        ) from None
    try:
        sheet = None
        if variant_config.get("sample_sheet") and not variant_config.get("videos"):
            sheet = sample_sheet.read(variant_config["sample_sheet"])
        check_config(variant_config, sheet)
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
_videos_owners = {}
_exported = set()
_module_names = set()
for variant in VARIANTS:
    module_name = experiment_variants.module_name(variant.name, _module_names)
    _module_names.add(module_name)
    exclude = list(UPSTREAM_RULES) if variant.upstream_key in _upstream_owners else []
    if variant.videos_key in _videos_owners:
        exclude.append("synthetic_video")
    for rule_name, artifact in experiment_variants.export_artifacts(
        variant.config
    ).items():
        if artifact in _exported:
            exclude.append(rule_name)
        _exported.add(artifact)
    _upstream_owners.setdefault(variant.upstream_key, variant.name)
    _videos_owners.setdefault(variant.videos_key, variant.name)
    workflow.module(
        module_name,
        snakefile=workflow.main_snakefile,
        config={
            **variant.config,
            "_variant": {
                "name": variant.name,
                "upstream": variant.upstream_key,
                "videos": variant.videos_key,
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


def experiment_outputs():
    outputs = []
    for namespace in VARIANT_MODULES.values():
        outputs += namespace.final_outputs()
    return outputs
