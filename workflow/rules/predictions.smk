# Track-only runs: an existing SLEAP predictions file stands in for the detection and pose stages.
if TRACK_ONLY:

    rule import_predictions:
        input:
            predictions=predictions_file,
        output:
            detections=f"{UPSTREAM}/{{video}}/detections.parquet",
            poses=f"{UPSTREAM}/{{video}}/poses.parquet",
        log:
            f"{UPSTREAM_LOGS}/{{video}}/import_predictions.log",
        benchmark:
            f"{UPSTREAM_BENCHMARKS}/{{video}}/import_predictions.tsv"
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("import_predictions", config, VIDEOS),
        params:
            frames=video_frames,
            video=lambda wildcards: VIDEOS[wildcards.video].path,
        script:
            "../scripts/import_predictions.py"
