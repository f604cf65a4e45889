# The batch pages of the Snakemake report (`snakemake --report report.html`): a table of every
# video and what each rule cost. The plots and overlay videos are flagged for the report where
# their rules make them (plots.smk, overlay.smk).
# A few seconds of reading tables where Snakemake runs: no cluster job of its own.
localrules:
    batch_summary,


rule batch_summary:
    input:
        batch_inputs,
    output:
        summary=f"{BATCH_PAGES}/summary.csv",
        summary_page=batch_page("summary.html", "summary", "batch table"),
        runtimes=f"{BATCH_PAGES}/runtimes.csv",
        runtimes_page=batch_page("runtimes.html", "runtimes", "runtime per rule"),
        runtimes_plot=batch_page("runtimes.png", "runtimes", "runtime plot"),
    log:
        f"{LOGS}/batch_summary.log",
    benchmark:
        f"{BENCHMARKS}/batch_summary.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        **job_sizing.rule_resources("batch_summary", config, VIDEOS),
    params:
        videos=[
            {"video_id": video_id, "evaluated": has_ground_truth(entry)}
            for video_id, entry in VIDEOS.items()
        ],
        benchmarks=BENCHMARKS,
    script:
        "../scripts/batch_summary.py"
