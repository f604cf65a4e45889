# With tracking on, the track job writes provenance.json; this rule serves detection- or
# pose-only runs.
if not TRACKING:

    rule provenance:
        input:
            unpack(video_results),
        output:
            f"{RESULTS}/{{video}}/provenance.json",
        log:
            f"{LOGS}/{{video}}/provenance.log",
        benchmark:
            f"{BENCHMARKS}/{{video}}/provenance.tsv"
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("provenance", config, VIDEOS),
        params:
            sources=provenance_sources,
            workflow_dir=workflow.basedir,
        script:
            "../scripts/provenance.py"
