if config["detection"]["method"] == "background":

    rule detect_background:
        input:
            video=video_file,
        output:
            f"{RESULTS}/{{video}}/detections.parquet",
        log:
            f"{LOGS}/{{video}}/detect_background.log",
        benchmark:
            f"{BENCHMARKS}/{{video}}/detect_background.tsv"
        conda:
            CORE_ENV
        threads: config["detection"]["threads"]
        resources:
            **job_resources("detect_background"),
        params:
            frames=lambda wildcards: str(VIDEOS[wildcards.video].frames),
            background=config["detection"]["background"],
        script:
            "../scripts/detect_background.py"
