# Proofreading: the track job writes each video's suspect stretches (suspects.parquet/.csv) and
# makes their frames tracks.slp's labelling suggestions; this packs those frames' images, with
# the predictions on them, into a SLEAP package that opens without the raw video.

if PROOFREADING and config["proofreading"]["package"]:

    rule proofread_package:
        input:
            tracks_slp=f"{RESULTS}/{{video}}/tracks.slp",
            suspects=f"{RESULTS}/{{video}}/suspects.parquet",
            video=video_file,
        output:
            f"{RESULTS}/{{video}}/proofread.pkg.slp",
        log:
            f"{LOGS}/{{video}}/proofread_package.log",
        benchmark:
            f"{BENCHMARKS}/{{video}}/proofread_package.tsv"
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("proofread_package", config, VIDEOS),
        script:
            "../scripts/proofread_package.py"


if PROOFREADING and config["proofreading"]["xanylabeling"]:

    rule xanylabeling_export:
        input:
            tracks=f"{RESULTS}/{{video}}/tracks.parquet",
            detections=f"{RESULTS}/{{video}}/detections.parquet",
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
