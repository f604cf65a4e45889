rule provenance:
    input:
        unpack(video_results),
        video=video_file,
        predictions=predictions_input,
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
        **job_resources("provenance"),
    params:
        config={key: value for key, value in config.items() if key != "videos"},
        entry=lambda wildcards: VIDEOS[wildcards.video].as_dict(),
        ground_truth=ground_truth_file,
        models=MODEL_FILES,
        workflow_dir=workflow.basedir,
    script:
        "../scripts/write_provenance.py"
