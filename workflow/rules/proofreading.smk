# Proofreading: the track job writes each video's suspect stretches (suspects.parquet/.csv) and
# makes their frames tracks.slp's labelling suggestions; this packs those frames' images, with
# the predictions on them, into a SLEAP package that opens without the raw video.

if proofreading_outputs():

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
