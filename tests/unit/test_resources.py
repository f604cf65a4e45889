"""Job requests (memory, time, GPU) sized from the video each job processes."""

from __future__ import annotations

import pytest

from snakeherd import resources, runtimes
from snakeherd.config import VideoEntry
from snakeherd.resources import Cost, Scaling, Workload
from snakeherd.video import FrameSelection

DEMO_CONFIG = {"runtime": "onnx_cpu", "detection": {"background": {"background_frames": 50}}}
HD_HOUR = Workload(frames=30 * 3600, width=1920, height=1080)
DEMO_CLIP = Workload(frames=300, width=400, height=400)


def test_gpu_runtimes_request_a_gpu_and_cpu_runtimes_never_do():
    for runtime in ("cuda", "rocm", "onnx_cuda", "onnx_rocm", "tensorrt"):
        assert runtimes.needs_gpu(runtime)
        assert resources.gpu_request(runtime) == {"gres": "gpu:1"}
    # mps is Apple's GPU: no scheduler hands one out, so nothing is requested.
    for runtime in ("cpu", "onnx_cpu", "tract", "mps"):
        assert not runtimes.needs_gpu(runtime)
        assert resources.gpu_request(runtime) == {}
    gpu_runtimes = {runtime.name for runtime in runtimes.TABLE if runtime.needs_gpu}
    assert gpu_runtimes | {"cpu", "onnx_cpu", "tract", "mps"} == set(runtimes.RUNTIMES)


def test_requests_grow_with_the_video():
    cost = resources.rule_cost("detect_background", DEMO_CONFIG)
    scaling = Scaling()
    small_mem = resources.memory_request_mb(cost, DEMO_CLIP, scaling)
    large_mem = resources.memory_request_mb(cost, HD_HOUR, scaling)
    assert large_mem > small_mem
    small_time = resources.runtime_request_minutes(cost, DEMO_CLIP, scaling)
    large_time = resources.runtime_request_minutes(cost, HD_HOUR, scaling)
    assert small_time == resources.MIN_RUNTIME_MINUTES
    # An hour of HD video: hours of processing, not the minimum.
    assert large_time > 60


def test_background_frames_drive_detection_memory():
    few = resources.rule_cost(
        "detect_background", {"detection": {"background": {"background_frames": 10}}}
    )
    many = resources.rule_cost(
        "detect_background", {"detection": {"background": {"background_frames": 500}}}
    )
    assert resources.memory_request_mb(many, HD_HOUR, Scaling()) > resources.memory_request_mb(
        few, HD_HOUR, Scaling()
    )


def test_retries_ask_for_more_and_scales_apply():
    cost = Cost(base_mem_mb=1000, base_seconds=600)
    workload = DEMO_CLIP
    plain = Scaling()
    first = resources.memory_request_mb(cost, workload, plain, attempt=1)
    assert first == 1000 * resources.MEMORY_MARGIN
    assert resources.memory_request_mb(cost, workload, plain, attempt=2) == 2 * first
    assert resources.memory_request_mb(cost, workload, plain, attempt=3) == 4 * first
    minutes = resources.runtime_request_minutes(cost, workload, plain, attempt=1)
    assert minutes == 600 * resources.TIME_MARGIN / 60
    assert resources.runtime_request_minutes(cost, workload, plain, attempt=2) == 2 * minutes

    scaled = Scaling.from_config({"memory_scale": 0.5, "runtime_scale": 3, "retry_growth": 1.5})
    assert resources.memory_request_mb(cost, workload, scaled, attempt=1) == first / 2
    assert resources.memory_request_mb(cost, workload, scaled, attempt=2) == first / 2 * 1.5
    assert resources.runtime_request_minutes(cost, workload, scaled) == 3 * minutes


def test_requests_are_whole_numbers_with_floors():
    tiny = Cost(base_mem_mb=1, base_seconds=1)
    assert resources.memory_request_mb(tiny, DEMO_CLIP, Scaling()) == resources.MIN_MEM_MB
    assert resources.runtime_request_minutes(tiny, DEMO_CLIP, Scaling()) == (
        resources.MIN_RUNTIME_MINUTES
    )
    odd = resources.memory_request_mb(Cost(base_mem_mb=1234.567), DEMO_CLIP, Scaling())
    assert isinstance(odd, int) and odd == 2470


def test_model_stages_cost_less_time_on_a_gpu_and_more_memory_per_batch():
    cpu = resources.rule_cost("yolo_obb", DEMO_CONFIG, runtime="onnx_cpu")
    gpu = resources.rule_cost("yolo_obb", DEMO_CONFIG, runtime="onnx_cuda")
    assert gpu.seconds(HD_HOUR) < cpu.seconds(HD_HOUR)
    torch = resources.rule_cost("sleap", DEMO_CONFIG, runtime="cuda", batch=1)
    batched = resources.rule_cost("sleap", DEMO_CONFIG, runtime="cuda", batch=16)
    assert batched.memory_mb(DEMO_CLIP) > torch.memory_mb(DEMO_CLIP)
    # ONNX Runtime jobs do not load torch.
    assert cpu.base_mem_mb < resources.rule_cost("yolo_obb", DEMO_CONFIG, runtime="cpu").base_mem_mb


def test_every_rule_of_the_workflow_has_a_cost_model():
    for rule in (
        "synthetic_video",
        "detect_background",
        "track",
        "evaluate",
        "provenance",
        "evaluation_summary",
        "import_predictions",
        "export",
        "sleap_preflight",
        "sleap_crop_boxes",
        "sleap_tables",
        "sleap_evaluate",
        "background_model",
        "join_chunks",
        "sleap_join_chunks",
    ):
        cost = resources.rule_cost(rule, DEMO_CONFIG)
        assert cost.memory_mb(DEMO_CLIP) > 0
    with pytest.raises(KeyError, match="no cost model for rule 'nonesuch'"):
        resources.rule_cost("nonesuch", DEMO_CONFIG)


def test_workload_of_synthetic_and_real_videos(small_videos):
    synthetic = VideoEntry(
        id="s",
        path=None,
        frames=FrameSelection.parse("0-99"),
        synthetic={"n_frames": 300, "width": 320, "height": 240},
    )
    assert resources.workload_of(synthetic) == Workload(frames=100, width=320, height=240)
    real = VideoEntry(id="r", path=str(small_videos["small_a"]), frames=FrameSelection.parse(None))
    assert resources.workload_of(real) == Workload(frames=60, width=256, height=256)
    part = VideoEntry(
        id="p", path=str(small_videos["small_a"]), frames=FrameSelection.parse("10-19,50-")
    )
    assert resources.workload_of(part).frames == 20


def test_unreadable_video_gets_a_modest_request(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video")
    entry = VideoEntry(id="g", path=str(garbage), frames=FrameSelection.parse(None))
    # Sizing must not fail the DAG: the job itself reports the bad video (and --keep-going).
    assert resources.workload_of(entry) == resources.UNKNOWN_WORKLOAD


def test_rule_resources_size_each_job_from_its_video_and_ask_for_a_gpu_only_when_told(
    small_videos,
):
    entry = VideoEntry(id="a", path=str(small_videos["small_a"]), frames=FrameSelection.parse(None))
    videos = {"a": entry}
    config = {**DEMO_CONFIG, "runtime": "onnx_cuda"}
    requests = resources.rule_resources("track", config, videos)
    assert set(requests) == {"mem_mb", "runtime"}
    cost = resources.rule_cost("track", config)
    workload = resources.workload_of(videos["a"])
    scaling = Scaling.from_config(config.get("resources"))
    assert requests["mem_mb"]({"video": "a"}, 1) == resources.memory_request_mb(
        cost, workload, scaling, 1
    )
    assert requests["runtime"]({"video": "a"}, 2) == resources.runtime_request_minutes(
        cost, workload, scaling, 2
    )
    # A job without a video (the summary) gets the fixed guess.
    assert requests["mem_mb"]({}, 1) == resources.memory_request_mb(
        cost, resources.UNKNOWN_WORKLOAD, scaling, 1
    )
    model = resources.rule_resources("sleap", config, videos, batch=4, gpu=True)
    assert model["gres"] == "gpu:1"
    on_cpu = resources.rule_resources("sleap", {**config, "runtime": "onnx_cpu"}, videos, gpu=True)
    assert "gres" not in on_cpu


def test_sleap_rules_keep_their_requests():
    # The SLEAP rules' cost models reproduce the fixed requests they had before sizing.
    unknown = resources.UNKNOWN_WORKLOAD
    scaling = Scaling()
    for rule, mem_mb, minutes in (
        ("sleap_preflight", 4096, 15),
        ("sleap_evaluate", 4096, 30),
        ("sleap_crop_boxes", 1024, 10),
    ):
        cost = resources.rule_cost(rule, DEMO_CONFIG)
        assert resources.memory_request_mb(cost, unknown, scaling) == mem_mb
        assert resources.runtime_request_minutes(cost, unknown, scaling) == minutes


def test_a_chunk_job_is_sized_by_its_chunk_not_its_video():
    hour = VideoEntry(
        id="hour",
        path=None,
        frames=FrameSelection.parse(None),
        synthetic={"n_frames": 100000, "width": 640, "height": 480},
        chunk_frames=18000,
    )
    videos = {"hour": hour}
    config = {**DEMO_CONFIG, "runtime": "cuda"}
    requests = resources.rule_resources("yolo_obb", config, videos, gpu=True)
    cost = resources.rule_cost("yolo_obb", config)
    scaling = Scaling()
    whole = resources.workload_of(hour)
    for chunk, frames in (("0", 18000), ("5", 10000)):  # the last of 6 chunks is shorter
        wildcards = {"video": "hour", "chunk": chunk}
        workload = Workload(frames=frames, width=640, height=480)
        assert requests["runtime"](wildcards, 1) == resources.runtime_request_minutes(
            cost, workload, scaling
        )
        assert requests["mem_mb"](wildcards, 1) == resources.memory_request_mb(
            cost, workload, scaling
        )
    assert requests["runtime"]({"video": "hour", "chunk": "0"}, 1) < requests["runtime"](
        {"video": "hour"}, 1
    )
    assert resources.runtime_request_minutes(cost, whole, scaling) == requests["runtime"](
        {"video": "hour"}, 1
    )
    assert requests["gres"] == "gpu:1"


def test_track_memory_follows_the_animals_and_the_join_stays_bounded():
    four = resources.rule_cost("track", {**DEMO_CONFIG, "tracking": {"max_tracks": 4}})
    twenty = resources.rule_cost("track", {**DEMO_CONFIG, "tracking": {"max_tracks": 20}})
    unknown = resources.rule_cost("track", {**DEMO_CONFIG, "tracking": {"max_tracks": "auto"}})
    # Measured: 969 MB peak for an hour-long 4-animal video's track job before tracks.slp was
    # written from arrays (320 MB now at 100,000 frames of 4 animals); the request covers it.
    assert four.memory_mb(HD_HOUR) * resources.MEMORY_MARGIN > 969
    assert twenty.memory_mb(HD_HOUR) > 4 * (four.memory_mb(HD_HOUR) - four.base_mem_mb)
    assert unknown.mem_mb_per_frame == four.mem_mb_per_frame * resources.ASSUMED_ANIMALS / 4
    # The join writes one chunk at a time: an hour of video asks for no more than 10 minutes.
    join = resources.rule_cost("join_chunks", DEMO_CONFIG)
    ten_minutes = Workload(frames=30 * 600, width=1920, height=1080)
    assert join.memory_mb(HD_HOUR) < join.memory_mb(ten_minutes) + 50


def test_importing_predictions_asks_for_memory_bounded_by_its_parts():
    """Measured: 228 MB to import 11,000 frames of 2 flies with 24 keypoints, 236 MB for
    110,000 (306 MB before its freed arrays went back to the system; 1,148 MB when the tables
    were whole): an hour of ten animals asks for less than 1.5 times what a minute of two does
    (10.6 times before)."""
    two = resources.rule_cost("import_predictions", {**DEMO_CONFIG, "tracking": {"max_tracks": 2}})
    auto = resources.rule_cost("import_predictions", DEMO_CONFIG)
    flies = Workload(frames=110_000, width=1024, height=1024)
    minute = Workload(frames=30 * 60, width=1024, height=1024)
    assert two.memory_mb(flies) * resources.MEMORY_MARGIN > 2 * 306
    assert auto.memory_mb(HD_HOUR) < 1.5 * two.memory_mb(minute)
    assert auto.mem_mb_per_frame == two.mem_mb_per_frame * resources.ASSUMED_ANIMALS / 2
