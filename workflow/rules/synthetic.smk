rule synthetic_video:
    output:
        video=f"{RESULTS}/{{video}}/synthetic/video.mp4",
        ground_truth=f"{RESULTS}/{{video}}/synthetic/ground_truth.parquet",
    log:
        f"{LOGS}/{{video}}/synthetic_video.log",
    benchmark:
        f"{BENCHMARKS}/{{video}}/synthetic_video.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        **job_resources("synthetic_video"),
    params:
        scene=lambda wildcards: VIDEOS[wildcards.video].synthetic,
    script:
        "../scripts/make_synthetic_video.py"
