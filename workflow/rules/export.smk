# One export rule per model the config's runtime needs exported (see yolo_model in common.smk).
for artifact, settings in YOLO_EXPORTS.items():

    rule:
        name:
            f"export_yolo_{settings['task']}"
        input:
            model=settings["source"],
            video=video_path(PARITY_VIDEOS[0]),
        output:
            artifact=artifact,
            parity=f"{artifact}.parity.json",
        log:
            f"{LOGS}/export_yolo_{settings['task']}.log",
        benchmark:
            f"{BENCHMARKS}/export_yolo_{settings['task']}.tsv"
        conda:
            EXPORT_ENV
        threads: 1
        resources:
            **export_job_resources(),
        params:
            settings=settings,
            videos=[video_path(video_id) for video_id in PARITY_VIDEOS],
            frames=[str(VIDEOS[video_id].frames) for video_id in PARITY_VIDEOS],
            tolerance=config["export"],
        script:
            "../scripts/export_yolo.py"
