# Long videos (chunk_frames): each model stage runs one job per chunk of a video's selected
# frames, written to <video>/chunks/<table>.<chunk>.parquet, and join_chunks joins them into the
# table an unsplit run writes. Only videos with more than one chunk (CHUNKED_VIDEO) come here;
# the others keep the single-job rules of detect.smk and pose.smk. SLEAP's chunk rules are in
# sleap.smk.
CHUNKS = f"{UPSTREAM}/{{video}}/chunks"
CHUNK_LOGS = f"{UPSTREAM_LOGS}/{{video}}/chunks"
CHUNK_BENCHMARKS = f"{UPSTREAM_BENCHMARKS}/{{video}}/chunks"


if CHUNKED_TABLES:

    rule join_chunks:
        input:
            chunks=chunk_tables,
        output:
            f"{UPSTREAM}/{{video}}/{{table}}.parquet",
        log:
            f"{UPSTREAM_LOGS}/{{video}}/join_{{table}}.log",
        benchmark:
            f"{UPSTREAM_BENCHMARKS}/{{video}}/join_{{table}}.tsv"
        wildcard_constraints:
            video=CHUNKED_VIDEO,
            table="|".join(CHUNKED_TABLES),
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("join_chunks", config, VIDEOS),
        params:
            plan=chunk_plan,
        script:
            "../scripts/join_chunks.py"


if DETECTION == "background":

    rule background_model:
        input:
            video=video_file,
        output:
            f"{CHUNKS}/background.npz",
        log:
            f"{CHUNK_LOGS}/background_model.log",
        benchmark:
            f"{CHUNK_BENCHMARKS}/background_model.tsv"
        wildcard_constraints:
            video=CHUNKED_VIDEO,
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("background_model", config, VIDEOS),
        params:
            frames=video_frames,
            background=config["detection"]["background"],
        script:
            "../scripts/background_model.py"

    rule detect_background_chunk:
        input:
            video=video_file,
            background=f"{CHUNKS}/background.npz",
        output:
            temp(f"{CHUNKS}/detections.{{chunk}}.parquet"),
        log:
            f"{CHUNK_LOGS}/detect_background.{{chunk}}.log",
        benchmark:
            f"{CHUNK_BENCHMARKS}/detect_background.{{chunk}}.tsv"
        wildcard_constraints:
            video=CHUNKED_VIDEO,
            chunk=r"\d+",
        conda:
            CORE_ENV
        threads: config["detection"]["threads"]
        resources:
            **job_sizing.rule_resources("detect_background", config, VIDEOS),
        params:
            frames=chunk_frames,
            background=config["detection"]["background"],
        script:
            "../scripts/detect_background.py"


if DETECTION == "yolo_obb":

    rule detect_yolo_obb_chunk:
        input:
            video=video_file,
            model=YOLO_DETECTION_MODEL,
        output:
            temp(f"{CHUNKS}/detections.{{chunk}}.parquet"),
        log:
            f"{CHUNK_LOGS}/detect_yolo_obb.{{chunk}}.log",
        benchmark:
            f"{CHUNK_BENCHMARKS}/detect_yolo_obb.{{chunk}}.tsv"
        wildcard_constraints:
            video=CHUNKED_VIDEO,
            chunk=r"\d+",
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
            frames=chunk_frames,
            yolo=config["detection"]["yolo"],
        script:
            "../scripts/detect_yolo_obb.py"


if POSE == "yolo_pose" and POSE_MODE == "crops":

    rule pose_yolo_crops_chunk:
        input:
            video=video_file,
            model=YOLO_POSE_MODEL,
            detections=f"{CHUNKS}/detections.{{chunk}}.parquet",
        output:
            poses=temp(f"{CHUNKS}/poses.{{chunk}}.parquet"),
        log:
            f"{CHUNK_LOGS}/pose_yolo_crops.{{chunk}}.log",
        benchmark:
            f"{CHUNK_BENCHMARKS}/pose_yolo_crops.{{chunk}}.tsv"
        wildcard_constraints:
            video=CHUNKED_VIDEO,
            chunk=r"\d+",
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
            frames=chunk_frames,
            pose=config["pose"],
        script:
            "../scripts/pose_yolo.py"


if POSE == "yolo_pose" and POSE_MODE == "frames":

    rule pose_yolo_frames_chunk:
        input:
            video=video_file,
            model=YOLO_POSE_MODEL,
        output:
            poses=temp(f"{CHUNKS}/poses.{{chunk}}.parquet"),
            detections=temp(f"{CHUNKS}/detections.{{chunk}}.parquet"),
        log:
            f"{CHUNK_LOGS}/pose_yolo_frames.{{chunk}}.log",
        benchmark:
            f"{CHUNK_BENCHMARKS}/pose_yolo_frames.{{chunk}}.tsv"
        wildcard_constraints:
            video=CHUNKED_VIDEO,
            chunk=r"\d+",
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
            frames=chunk_frames,
            pose=config["pose"],
        script:
            "../scripts/pose_yolo.py"
