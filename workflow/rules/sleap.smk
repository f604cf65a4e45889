# The SLEAP pose stage (pose.method: sleap), run by the SLEAP environment's Python: pose.env, or
# under --sdm conda the runtime's envs/sleap-*.yaml. Snakemake's own environment never imports
# sleap-nn: these rules call workflow/scripts/sleap_*.py with that interpreter, as shell
# commands, and the main-environment rule sleap_tables turns their arrays into the common tables.
rule sleap_preflight:
    output:
        temp(f"{UPSTREAM}/sleap/preflight.json"),
    log:
        f"{UPSTREAM_LOGS}/sleap_preflight.log",
    benchmark:
        f"{UPSTREAM_BENCHMARKS}/sleap_preflight.tsv"
    conda:
        SLEAP_CONDA_ENV
    threads: 1
    resources:
        # It checks the runtime on the kind of node the SLEAP jobs run on.
        **job_sizing.rule_resources("sleap_preflight", config, VIDEOS, gpu=True),
    params:
        python=sleap_python(),
        script=f"{SLEAP_SCRIPTS}/sleap_preflight.py",
        runtime=RUNTIME,
    shell:
        "{params.python:q} {params.script:q} --runtime {params.runtime}"
        " --output {output:q} --log {log:q}"


if SLEAP_EXPORT_ROOT:

    rule sleap_export:
        input:
            preflight=ancient(f"{UPSTREAM}/sleap/preflight.json"),
            models=SLEAP_PIPELINE.files(),
        output:
            directory(f"{SLEAP_EXPORT_ROOT}/{{height}}x{{width}}"),
        log:
            f"{UPSTREAM_LOGS}/sleap_export_{{height}}x{{width}}.log",
        benchmark:
            f"{UPSTREAM_BENCHMARKS}/sleap_export_{{height}}x{{width}}.tsv"
        wildcard_constraints:
            height=r"\d+",
            width=r"\d+",
        conda:
            SLEAP_CONDA_ENV
        threads: config["pose"]["threads"]
        resources:
            # The parity check runs the export on its runtime: a GPU for the GPU runtimes.
            **job_sizing.rule_resources("export", config, VIDEOS, gpu=True),
        params:
            python=sleap_python(),
            script=f"{SLEAP_SCRIPTS}/sleap_export.py",
            runtime=RUNTIME,
            kind=SLEAP_PIPELINE.kind,
            models=SLEAP_PIPELINE.paths,
            nodes=SLEAP_NODES,
            crop_size=SLEAP_CROP_SIZE,
            video=sleap_parity_video,
            parity_frames=config["pose"]["export_parity_frames"],
            max_instances=sleap_max_instances_argument(),
            trust=SLEAP_TRUST_ARGUMENT,
            tolerance=config["pose"]["export_tolerance_px"],
        shell:
            "{params.python:q} {params.script:q} --runtime {params.runtime}"
            " --kind {params.kind} --models {params.models:q} --nodes {params.nodes:q}"
            " --crop-size {params.crop_size} --video {params.video:q}"
            " --folder {output:q} --height {wildcards.height} --width {wildcards.width}"
            " --parity-frames {params.parity_frames} --tolerance {params.tolerance}"
            " {params.max_instances} {params.trust}"
            " --threads {threads} --log {log:q}"


if SLEAP_PIPELINE.on_crops:

    rule sleap_crop_boxes:
        input:
            f"{UPSTREAM}/{{video}}/detections.parquet",
        output:
            temp(f"{UPSTREAM}/{{video}}/sleap/boxes.npz"),
        log:
            f"{UPSTREAM_LOGS}/{{video}}/sleap_crop_boxes.log",
        benchmark:
            f"{UPSTREAM_BENCHMARKS}/{{video}}/sleap_crop_boxes.tsv"
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("sleap_crop_boxes", config, VIDEOS),
        script:
            "../scripts/sleap_crop_boxes.py"


rule sleap_predict:
    input:
        unpack(sleap_predict_inputs),
    output:
        slp=f"{UPSTREAM}/{{video}}/poses.slp",
        npz=temp(f"{UPSTREAM}/{{video}}/sleap/poses.npz"),
    log:
        f"{UPSTREAM_LOGS}/{{video}}/sleap_predict.log",
    benchmark:
        f"{UPSTREAM_BENCHMARKS}/{{video}}/sleap_predict.tsv"
    wildcard_constraints:
        video=WHOLE_VIDEO,  # longer videos: sleap_predict_chunk below
    conda:
        SLEAP_CONDA_ENV
    threads: config["pose"]["threads"]
    resources:
        **job_sizing.rule_resources(
            "sleap", config, VIDEOS, batch=config["pose"]["batch_size"], gpu=True
        ),
    params:
        python=sleap_python(),
        script=f"{SLEAP_SCRIPTS}/sleap_predict.py",
        runtime=RUNTIME,
        kind=SLEAP_PIPELINE.kind,
        models=SLEAP_PIPELINE.paths,
        nodes=SLEAP_NODES,
        frames=video_frames,
        batch_size=config["pose"]["batch_size"],
        max_instances=sleap_max_instances_argument(),
        trust=SLEAP_TRUST_ARGUMENT,
        export=sleap_export_argument,
        crops=sleap_crop_arguments,
    shell:
        "{params.python:q} {params.script:q} --runtime {params.runtime}"
        " --kind {params.kind} --models {params.models:q} --nodes {params.nodes:q}"
        " --video {input.video:q} --frames {params.frames:q} {params.export} {params.crops}"
        " --batch-size {params.batch_size} --threads {threads} {params.max_instances} {params.trust}"
        " --slp {output.slp:q} --npz {output.npz:q} --log {log:q}"


# A video with more selected frames than chunk_frames (CHUNKED_VIDEO): one prediction job per
# chunk (the only GPU jobs), each on its chunk's boxes, and sleap_join_chunks (CPU, main
# environment) joins their arrays and .slp files into what sleap_predict writes for a whole video,
# so sleap_tables and sleap_evaluate do not know about chunks.
if SLEAP_PIPELINE.on_crops:

    rule sleap_crop_boxes_chunk:
        input:
            f"{CHUNKS}/detections.{{chunk}}.parquet",
        output:
            temp(f"{CHUNKS}/sleap_boxes.{{chunk}}.npz"),
        log:
            f"{CHUNK_LOGS}/sleap_crop_boxes.{{chunk}}.log",
        benchmark:
            f"{CHUNK_BENCHMARKS}/sleap_crop_boxes.{{chunk}}.tsv"
        wildcard_constraints:
            video=CHUNKED_VIDEO,
            chunk=r"\d+",
        conda:
            CORE_ENV
        threads: 1
        resources:
            **job_sizing.rule_resources("sleap_crop_boxes", config, VIDEOS),
        script:
            "../scripts/sleap_crop_boxes.py"


rule sleap_predict_chunk:
    input:
        unpack(sleap_predict_inputs),
    output:
        slp=temp(f"{CHUNKS}/poses.{{chunk}}.slp"),
        npz=temp(f"{CHUNKS}/sleap_poses.{{chunk}}.npz"),
    log:
        f"{CHUNK_LOGS}/sleap_predict.{{chunk}}.log",
    benchmark:
        f"{CHUNK_BENCHMARKS}/sleap_predict.{{chunk}}.tsv"
    wildcard_constraints:
        video=CHUNKED_VIDEO,
        chunk=r"\d+",
    conda:
        SLEAP_CONDA_ENV
    threads: config["pose"]["threads"]
    resources:
        **job_sizing.rule_resources(
            "sleap", config, VIDEOS, batch=config["pose"]["batch_size"], gpu=True
        ),
    params:
        python=sleap_python(),
        script=f"{SLEAP_SCRIPTS}/sleap_predict.py",
        runtime=RUNTIME,
        kind=SLEAP_PIPELINE.kind,
        models=SLEAP_PIPELINE.paths,
        nodes=SLEAP_NODES,
        frames=chunk_frames,
        batch_size=config["pose"]["batch_size"],
        max_instances=sleap_max_instances_argument(),
        trust=SLEAP_TRUST_ARGUMENT,
        export=sleap_export_argument,
        crops=sleap_crop_arguments,
    shell:
        "{params.python:q} {params.script:q} --runtime {params.runtime}"
        " --kind {params.kind} --models {params.models:q} --nodes {params.nodes:q}"
        " --video {input.video:q} --frames {params.frames:q} {params.export} {params.crops}"
        " --batch-size {params.batch_size} --threads {threads} {params.max_instances} {params.trust}"
        " --slp {output.slp:q} --npz {output.npz:q} --log {log:q}"


rule sleap_join_chunks:
    input:
        unpack(sleap_chunk_predictions),
    output:
        slp=f"{UPSTREAM}/{{video}}/poses.slp",
        npz=temp(f"{UPSTREAM}/{{video}}/sleap/poses.npz"),
    log:
        f"{UPSTREAM_LOGS}/{{video}}/sleap_join_chunks.log",
    benchmark:
        f"{UPSTREAM_BENCHMARKS}/{{video}}/sleap_join_chunks.tsv"
    wildcard_constraints:
        video=CHUNKED_VIDEO,
    conda:
        CORE_ENV
    threads: 1
    resources:
        **job_sizing.rule_resources("sleap_join_chunks", config, VIDEOS),
    params:
        plan=chunk_plan,
    script:
        "../scripts/sleap_join_chunks.py"


rule sleap_tables:
    input:
        npz=f"{UPSTREAM}/{{video}}/sleap/poses.npz",
    output:
        **(
            {"poses": f"{UPSTREAM}/{{video}}/poses.parquet"}
            if SLEAP_PIPELINE.on_crops
            else {
                "poses": f"{UPSTREAM}/{{video}}/poses.parquet",
                "detections": f"{UPSTREAM}/{{video}}/detections.parquet",
            }
        ),
    log:
        f"{UPSTREAM_LOGS}/{{video}}/sleap_tables.log",
    benchmark:
        f"{UPSTREAM_BENCHMARKS}/{{video}}/sleap_tables.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        **job_sizing.rule_resources("sleap_tables", config, VIDEOS),
    script:
        "../scripts/sleap_tables.py"


rule sleap_evaluate:
    input:
        preflight=ancient(f"{UPSTREAM}/sleap/preflight.json"),
        predictions=f"{UPSTREAM}/{{video}}/poses.slp",
        ground_truth=ground_truth_file,
    output:
        f"{UPSTREAM}/{{video}}/pose_evaluation.json",
    log:
        f"{UPSTREAM_LOGS}/{{video}}/sleap_evaluate.log",
    benchmark:
        f"{UPSTREAM_BENCHMARKS}/{{video}}/sleap_evaluate.tsv"
    conda:
        SLEAP_CONDA_ENV
    threads: 1
    resources:
        **job_sizing.rule_resources("sleap_evaluate", config, VIDEOS),
    params:
        python=sleap_python(),
        script=f"{SLEAP_SCRIPTS}/sleap_evaluate.py",
        frames=video_frames,
    shell:
        "{params.python:q} {params.script:q} --predictions {input.predictions:q}"
        " --ground-truth {input.ground_truth:q} --frames {params.frames:q}"
        " --video-id {wildcards.video} --output {output:q} --log {log:q}"
