if TRACKING:

    rule plots:
        input:
            **plot_inputs(),
        output:
            trajectories=video_plot("trajectories", "trajectories"),
            timeline=video_plot("timeline", "track timeline"),
            counts=video_plot("counts", "animals per frame"),
            scores=video_plot("scores", "scores"),
            provenance=report(
                f"{RESULTS}/{{video}}/plots/provenance.html",
                caption="../report/provenance.rst",
                category="Videos",
                subcategory="{video}",
                labels={"video": "{video}", "figure": "provenance"},
            ),
        log:
            f"{LOGS}/{{video}}/plots.log",
        benchmark:
            f"{BENCHMARKS}/{{video}}/plots.tsv"
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("plots", config, VIDEOS),
        params:
            match_distance=config["evaluation"]["match_distance"],
        script:
            "../scripts/plots.py"
