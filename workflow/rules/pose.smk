if POSE == "yolo_pose" and POSE_MODE == "crops":

    rule pose_yolo_crops:
        input:
            video=video_file,
            model=YOLO_POSE_MODEL,
            detections=f"{UPSTREAM}/{{video}}/detections.parquet",
        output:
            poses=f"{UPSTREAM}/{{video}}/poses.parquet",
        log:
            f"{UPSTREAM_LOGS}/{{video}}/pose_yolo_crops.log",
        benchmark:
            f"{UPSTREAM_BENCHMARKS}/{{video}}/pose_yolo_crops.tsv"
        wildcard_constraints:
            video=WHOLE_VIDEO,  # longer videos: rules/chunks.smk
        conda:
            YOLO_ENV
        threads: config["pose"]["threads"]
        resources:
            **job_sizing.rule_resources(
                "yolo_pose",
                config,
                VIDEOS,
                batch=config["pose"]["yolo"]["batch"],
                gpu=True,
            ),
        params:
            runtime=RUNTIME,
            trust_model_files=config["trust_model_files"],
            frames=video_frames,
            pose=config["pose"],
        script:
            "../scripts/pose_yolo.py"


if POSE == "yolo_pose" and POSE_MODE == "frames":

    rule pose_yolo_frames:
        input:
            video=video_file,
            model=YOLO_POSE_MODEL,
        output:
            poses=f"{UPSTREAM}/{{video}}/poses.parquet",
            detections=f"{UPSTREAM}/{{video}}/detections.parquet",
        log:
            f"{UPSTREAM_LOGS}/{{video}}/pose_yolo_frames.log",
        benchmark:
            f"{UPSTREAM_BENCHMARKS}/{{video}}/pose_yolo_frames.tsv"
        wildcard_constraints:
            video=WHOLE_VIDEO,  # longer videos: rules/chunks.smk
        conda:
            YOLO_ENV
        threads: config["pose"]["threads"]
        resources:
            **job_sizing.rule_resources(
                "yolo_pose",
                config,
                VIDEOS,
                batch=config["pose"]["yolo"]["batch"],
                gpu=True,
            ),
        params:
            runtime=RUNTIME,
            trust_model_files=config["trust_model_files"],
            frames=video_frames,
            pose=config["pose"],
        script:
            "../scripts/pose_yolo.py"
