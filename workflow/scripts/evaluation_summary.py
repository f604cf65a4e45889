"""Rule evaluation_summary: every video's tracking scores in one table, plus the overall row."""

from snakeherd import io
from snakeherd.evaluation import summarize
from snakeherd.scripting import run_rule


def main(smk):
    per_video = [io.read_table(path, "evaluation") for path in smk.input]
    summary = summarize(per_video)
    io.write_table(summary, smk.output.table, "evaluation", {"method": "motmetrics"})
    io.write_csv(summary, smk.output.csv)


run_rule(main, snakemake)  # noqa: F821
