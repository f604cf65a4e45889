rule synthetic_video:
    output:
        video=f"{SYNTHETIC}/{{video}}/synthetic/video.mp4",
        ground_truth=f"{SYNTHETIC}/{{video}}/synthetic/ground_truth.parquet",
    log:
        f"{SYNTHETIC_LOGS}/{{video}}/synthetic_video.log",
    benchmark:
        f"{SYNTHETIC_BENCHMARKS}/{{video}}/synthetic_video.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        **job_sizing.rule_resources("synthetic_video", config, VIDEOS),
    params:
        scene=lambda wildcards: VIDEOS[wildcards.video].synthetic,
    script:
        "../scripts/synthetic_video.py"
