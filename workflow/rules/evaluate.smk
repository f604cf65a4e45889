rule evaluate:
    input:
        tracks=f"{RESULTS}/{{video}}/tracks.parquet",
        detections=f"{UPSTREAM}/{{video}}/detections.parquet",
        ground_truth=ground_truth_file,
    output:
        table=f"{RESULTS}/{{video}}/evaluation.parquet",
        csv=f"{RESULTS}/{{video}}/evaluation.csv",
    log:
        f"{LOGS}/{{video}}/evaluate.log",
    benchmark:
        f"{BENCHMARKS}/{{video}}/evaluate.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        **job_sizing.rule_resources("evaluate", config, VIDEOS),
    params:
        evaluation=config["evaluation"],
    script:
        "../scripts/evaluate.py"


rule evaluation_summary:
    input:
        expand(f"{RESULTS}/{{video}}/evaluation.parquet", video=evaluated_videos()),
    output:
        table=f"{RESULTS}/evaluation_summary.parquet",
        csv=f"{RESULTS}/evaluation_summary.csv",
    log:
        f"{LOGS}/evaluation_summary.log",
    benchmark:
        f"{BENCHMARKS}/evaluation_summary.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        **job_sizing.rule_resources("evaluation_summary", config, VIDEOS),
    script:
        "../scripts/evaluation_summary.py"
