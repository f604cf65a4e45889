"""Experiments: the variants of one config (named overrides and/or a grid of values).

A config with ``experiments:`` stands for several configs, one per variant: the config without
``experiments`` and with the variant's dotted keys (``tracking.max_gap: 10``) replaced. Each
variant's results go to ``results/<experiment>/<variant>/``. The stages before tracking (the
synthetic videos, detection, pose) depend only on the settings outside ``DOWNSTREAM_SECTIONS``:
variants that agree on those share one ``upstream key``, and their detections and poses are made
once, under ``results/<experiment>/shared/upstream-<upstream key>/``. Every variant runs on the
same videos; generated (synthetic) videos are made once, under ``results/<experiment>/shared/``.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from snakeherd.config import SAFE_ID  # a variant is a folder, as a video id is
from snakeherd.errors import ConfigError

# The sections no stage before tracking reads (checked by tests/unit/test_experiments.py against
# the rule files): a variant that changes only these shares its detections and poses.
DOWNSTREAM_SECTIONS = (
    "experiment",
    "tracking",
    "proofreading",
    "evaluation",
    "outputs",
    "resources",
)
# Every variant runs on the same videos. A video's own settings are no part of any key: its jobs
# see them as inputs and params, so adding or changing a video reruns only that video's jobs.
VIDEO_KEYS = ("videos", "sample_sheet")
# Folders of results/<experiment>/ that are not variants.
RESERVED_NAMES = frozenset({"shared", "logs", "benchmarks", "report", "comparison"})
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: dict
    config: dict  # the effective config: no `experiments`, overrides applied

    @property
    def settings_hash(self) -> str:
        """A short hash of every effective setting of this variant."""
        return settings_hash(self.config)

    @property
    def upstream_key(self) -> str:
        """The hash of the settings its stages before tracking depend on."""
        return upstream_key(self.config)


def settings_hash(settings: dict) -> str:
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def upstream_key(config: dict) -> str:
    return settings_hash(
        {
            key: value
            for key, value in config.items()
            if key not in DOWNSTREAM_SECTIONS and key not in VIDEO_KEYS
        }
    )


def expand(
    config: dict, schema: dict, validate: Callable[[str, dict], None] | None = None
) -> list[Variant]:
    """The variants of a config with ``experiments``; raises :class:`ConfigError`.

    ``schema`` is the config schema (only its structure is used, to name unknown keys);
    ``validate(name, variant_config)`` judges each variant as a config of its own and raises
    ConfigError (it also fills the schema defaults in).
    """
    experiments = config.get("experiments") or {}
    named = experiments.get("variants") or {}
    grid = experiments.get("grid")
    if "grid" in experiments and not grid:
        raise ConfigError(
            "experiments.grid is empty.", "give each grid key a list of values, or remove grid."
        )
    if not named and not grid:
        raise ConfigError(
            "experiments: neither `variants` nor `grid` is given.",
            "add variants (name: {dotted.key: value}) and/or a grid (dotted.key: [values]), "
            "or remove `experiments`.",
        )
    base = {key: value for key, value in config.items() if key != "experiments"}

    for name, overrides in named.items():
        check_name(str(name), f"experiments.variants.{name}")
        if not isinstance(overrides, dict):
            raise ConfigError(
                f"experiments.variants.{name}: expected a mapping of dotted keys to values, "
                f"got {overrides!r}.",
                f"write it as `{name}: {{tracking.max_gap: 10}}`.",
            )
        for key in overrides:
            check_key(schema, key, f"experiments.variants.{name}")
    for key, values in (grid or {}).items():
        check_key(schema, key, "experiments.grid")
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"experiments.grid.{key}: expected a non-empty list of values, got {values!r}.",
                f"write it as `{key}: [first, second]`.",
            )

    combinations = grid_combinations(grid or {})
    variants = []
    for name, overrides in (named or {"": {}}).items():
        for grid_name, grid_overrides in combinations:
            full_name = "_".join(part for part in (str(name), grid_name) if part)
            check_name(full_name, f"experiments: the variant {full_name!r}")
            merged = {**overrides, **grid_overrides}
            variant_config = apply_overrides(base, merged)
            if validate is not None:
                validate(full_name, variant_config)
            variants.append(Variant(full_name, merged, variant_config))
    check_distinct(variants)
    return variants


def grid_combinations(grid: dict) -> list[tuple[str, dict]]:
    """(name, overrides) for each combination; names made from the keys' last parts and values."""
    if not grid:
        return [("", {})]
    keys = list(grid)
    last_parts = [key.rsplit(".", 1)[-1] for key in keys]
    labels = [
        last if last_parts.count(last) == 1 else key.replace(".", "-")
        for key, last in zip(keys, last_parts, strict=True)
    ]
    combinations = []
    for values in itertools.product(*(grid[key] for key in keys)):
        name = "_".join(
            f"{label}-{value_label(value)}" for label, value in zip(labels, values, strict=True)
        )
        combinations.append((name, dict(zip(keys, values, strict=True))))
    return combinations


def value_label(value) -> str:
    text = json.dumps(value) if isinstance(value, dict | list) else str(value)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text) or "none"


def check_name(name: str, where: str) -> None:
    if not SAFE_ID.match(name) or len(name) > MAX_NAME_LENGTH:
        raise ConfigError(
            f"{where}: {name!r} is not a safe folder name (results/<experiment>/<variant>/).",
            "use letters, digits, '_', '.' and '-' only, starting with a letter or digit, "
            f"at most {MAX_NAME_LENGTH} characters.",
        )
    if name in RESERVED_NAMES:
        raise ConfigError(
            f"{where}: {name!r} is a folder snakeherd keeps for itself in results/<experiment>/.",
            f"choose another name than {', '.join(sorted(RESERVED_NAMES))}.",
        )


def check_key(schema: dict, dotted: str, where: str) -> None:
    """An override key must name a setting of the schema (dotted through its objects)."""
    if not isinstance(dotted, str) or not dotted:
        raise ConfigError(f"{where}: {dotted!r} is not a dotted key.", "e.g. tracking.max_gap")
    if dotted.split(".")[0] in ("experiments", "experiment", *VIDEO_KEYS):
        raise ConfigError(
            f"{where}: a variant cannot change {dotted!r}: the variants of an experiment run on "
            "the same videos, under results/<experiment>/.",
            "set it outside `experiments`; for other videos, use another config (or experiment).",
        )
    node = schema
    walked = []
    for part in dotted.split("."):
        node = resolve(schema, node)
        properties = node.get("properties") or {}
        if part not in properties:
            inside = ".".join(walked) or "the config"
            known = ", ".join(sorted(properties)) or "no keys (it is not a section)"
            raise ConfigError(
                f"{where}: unknown key {dotted!r} ({inside} has no {part!r}).",
                f"use a key of {inside}: {known} (see config/README.md).",
            )
        node = properties[part]
        walked.append(part)


def resolve(schema: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        reference = node["$ref"]
        target = schema
        for part in reference.removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def apply_overrides(base: dict, overrides: dict) -> dict:
    """A deep copy of ``base`` with each dotted key set (missing sections are made)."""
    result = copy.deepcopy(base)
    for dotted, value in overrides.items():
        *sections, last = dotted.split(".")
        node = result
        for section in sections:
            if not isinstance(node.get(section), dict):
                node[section] = {}
            node = node[section]
        node[last] = copy.deepcopy(value)
    return result


def check_distinct(variants: list[Variant]) -> None:
    names = [variant.name for variant in variants]
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise ConfigError(
            f"experiments: more than one variant is named {twice[0]!r} (a named variant and a "
            "grid's name, or grid values that read the same).",
            "rename the named variant, or use grid values that differ as text.",
        )
    seen: dict[str, str] = {}
    for variant in variants:
        key = variant.settings_hash
        if key in seen:
            raise ConfigError(
                f"experiments: the variants {seen[key]!r} and {variant.name!r} are the same "
                "after their overrides.",
                "remove one of them, or change a setting in one.",
            )
        seen[key] = variant.name


def module_name(variant_name: str, taken: set[str]) -> str:
    """A Python name, not in ``taken``, for the variant's Snakemake module (its rules are named
    <module>_<rule>)."""
    base = "v_" + re.sub(r"\W", "_", variant_name)
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name
