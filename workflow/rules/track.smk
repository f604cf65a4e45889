rule track:
    input:
        unpack(tracking_inputs),
    output:
        table=f"{RESULTS}/{{video}}/tracks.parquet",
        csv=f"{RESULTS}/{{video}}/tracks.csv",
        slp=f"{RESULTS}/{{video}}/tracks.slp",
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
        video=video_reference,
    script:
        "../scripts/track.py"
