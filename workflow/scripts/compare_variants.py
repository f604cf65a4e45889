"""Rule comparison: every variant of an experiment side by side (comparison.csv, .parquet,
.png and .html)."""

from pathlib import Path

from snakeherd.comparison import VariantResults, write_comparison
from snakeherd.scripting import give_back_large_arrays, logger, run_rule


def main(smk):
    give_back_large_arrays()  # a whole video's arrays, made and freed one after the other
    variants = [
        VariantResults(
            name=variant["name"],
            results=Path(variant["results"]),
            upstream=Path(variant["upstream"]),
            benchmarks=[Path(folder) for folder in variant["benchmarks"]],
            videos=variant["videos"],
            evaluated=variant["evaluated"],
            expected_count=variant["expected_count"],
            match_distance=variant["match_distance"],
        )
        for variant in smk.params.variants
    ]
    table = write_comparison(
        variants, smk.output.csv, smk.output.parquet, smk.output.plot, smk.output.page
    )
    logger.info("comparison:\n%s", table.to_string(index=False))


run_rule(main, snakemake)  # noqa: F821
