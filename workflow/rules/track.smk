rule track:
    input:
        f"{RESULTS}/{{video}}/detections.parquet",
    output:
        table=f"{RESULTS}/{{video}}/tracks.parquet",
        csv=f"{RESULTS}/{{video}}/tracks.csv",
    log:
        f"{LOGS}/{{video}}/track.log",
    benchmark:
        f"{BENCHMARKS}/{{video}}/track.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        **job_resources("track"),
    params:
        tracking=config["tracking"],
    script:
        "../scripts/track.py"
