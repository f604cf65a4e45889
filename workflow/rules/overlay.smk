rule overlay:
    input:
        **overlay_inputs(),
    output:
        video=report(
            f"{RESULTS}/{{video}}/overlay.mp4",
            caption="../report/overlay.rst",
            category="Videos",
            subcategory="{video}",
            labels={"video": "{video}", "figure": "overlay video"},
        ),
    log:
        f"{LOGS}/{{video}}/overlay.log",
    benchmark:
        f"{BENCHMARKS}/{{video}}/overlay.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        **job_sizing.rule_resources("overlay", config, VIDEOS),
    params:
        options=config["outputs"]["overlay"],
    script:
        "../scripts/overlay.py"
