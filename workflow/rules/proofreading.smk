# Proofreading: the track job writes each video's suspect stretches (suspects.parquet/.csv),
# makes their frames tracks.slp's labelling suggestions and packs their images with the
# predictions into proofread.pkg.slp (one job per video, as before); this writes them for
# X-AnyLabeling when asked for.

if PROOFREADING and config["proofreading"]["xanylabeling"]:

    rule xanylabeling_export:
        input:
            tracks=f"{RESULTS}/{{video}}/tracks.parquet",
            detections=f"{UPSTREAM}/{{video}}/detections.parquet",
            suspects=f"{RESULTS}/{{video}}/suspects.parquet",
            video=video_file,
        output:
            directory(f"{RESULTS}/{{video}}/xanylabeling"),
        log:
            f"{LOGS}/{{video}}/xanylabeling_export.log",
        benchmark:
            f"{BENCHMARKS}/{{video}}/xanylabeling_export.tsv"
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("xanylabeling_export", config, VIDEOS),
        script:
            "../scripts/xanylabeling_export.py"
