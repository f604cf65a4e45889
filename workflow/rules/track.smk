if TRACKING:

    rule track:
        input:
            **tracking_inputs(),
        output:
            **suspect_files(),
            table=f"{RESULTS}/{{video}}/tracks.parquet",
            csv=f"{RESULTS}/{{video}}/tracks.csv",
            slp=f"{RESULTS}/{{video}}/tracks.slp",
            provenance=f"{RESULTS}/{{video}}/provenance.json",
        log:
            f"{LOGS}/{{video}}/track.log",
        benchmark:
            f"{BENCHMARKS}/{{video}}/track.tsv"
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("track", config, VIDEOS),
        params:
            tracking=config["tracking"],
            proofreading=config["proofreading"],
            sources=provenance_sources,
            workflow_dir=workflow.basedir,
        script:
            "../scripts/track.py"
