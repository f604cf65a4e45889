if config["detection"]["method"] == "background":

    rule detect_background:
        input:
            video=video_file,
        output:
            f"{UPSTREAM}/{{video}}/detections.parquet",
        log:
            f"{UPSTREAM_LOGS}/{{video}}/detect_background.log",
        benchmark:
            f"{UPSTREAM_BENCHMARKS}/{{video}}/detect_background.tsv"
        wildcard_constraints:
            video=WHOLE_VIDEO,  # longer videos: rules/chunks.smk
        conda:
            CORE_ENV
        threads: config["detection"]["threads"]
        resources:
            **job_sizing.rule_resources("detect_background", config, VIDEOS),
        params:
            frames=video_frames,
            background=config["detection"]["background"],
        script:
            "../scripts/detect_background.py"


if DETECTION == "yolo_obb":

    rule detect_yolo_obb:
        input:
            video=video_file,
            model=YOLO_DETECTION_MODEL,
        output:
            f"{UPSTREAM}/{{video}}/detections.parquet",
        log:
            f"{UPSTREAM_LOGS}/{{video}}/detect_yolo_obb.log",
        benchmark:
            f"{UPSTREAM_BENCHMARKS}/{{video}}/detect_yolo_obb.tsv"
        wildcard_constraints:
            video=WHOLE_VIDEO,  # longer videos: rules/chunks.smk
        conda:
            YOLO_ENV
        threads: config["detection"]["threads"]
        resources:
            **job_sizing.rule_resources(
                "yolo_obb",
                config,
                VIDEOS,
                batch=config["detection"]["yolo"]["batch"],
                gpu=True,
            ),
        params:
            runtime=RUNTIME,
            trust_model_files=config["trust_model_files"],
            frames=video_frames,
            yolo=config["detection"]["yolo"],
        script:
            "../scripts/detect_yolo_obb.py"
