# Files other tools read: NWB (ndx-pose) per track, which DANDI archives and movement loads, and
# SLEAP's analysis HDF5. Made from a video's tracks once its track job has finished.

if TRACKING and analysis_file_names():

    rule analysis_files:
        input:
            tracks=f"{RESULTS}/{{video}}/tracks.parquet",
            tracks_slp=f"{RESULTS}/{{video}}/tracks.slp",
            provenance=f"{RESULTS}/{{video}}/provenance.json",
            video=video_file,
        output:
            **analysis_file_names(),
        log:
            f"{LOGS}/{{video}}/analysis_files.log",
        benchmark:
            f"{BENCHMARKS}/{{video}}/analysis_files.tsv"
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("analysis_files", config, VIDEOS),
        params:
            video=lambda wildcards: video_path(wildcards.video),
            nwb_metadata=config["outputs"]["nwb_metadata"],
            subject=lambda wildcards: VIDEOS[wildcards.video].subject,
        script:
            "../scripts/analysis_files.py"
