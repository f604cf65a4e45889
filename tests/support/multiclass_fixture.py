"""Train tiny sleap-nn multi-class (identity) models for tests, from scratch and reproducibly.

Why: the shared test models (``../shared/data/sleap/models``) include no identity model. sleap-nn
has two kinds, and predictions of both come out already tracked, one class per animal:

* ``bottomup``: one ``multi_class_bottomup`` model (confidence maps plus class maps);
* ``topdown``: a ``centroid`` model and a ``multi_class_topdown`` model (confidence maps plus a
  class vector for each centred crop).

A checkpoint does not belong in the repository, so tests build them with this script: each model
takes one to two minutes on two CPU cores.

How: the labels come from ``tracking/centered_pair_predictions.clean.slp`` (two flies, every frame
tracked; track "2" is the larger fly, which is what the classes can learn). 200 frames spread
over frames 0-899 are copied as user instances of three nodes (head, thorax, abdomen), each with
its track, so the two tracks are the two classes. Frames 900-1099 are never trained on:
``--check`` scores the model on them. To fit the CPU budget the networks are small UNets (12 base
filters); whole-frame models see frames scaled to 0.375 (144 px), the top-down identity model
128 px crops scaled to 0.5 (64 px). The only augmentation is rotation: a scale augmentation would
blur the size difference between the flies.

Run it in the SLEAP environment (the main environment has no sleap-nn)::

    .venv-sleap/bin/python tests/support/multiclass_fixture.py OUTPUT_DIR \
        [--kind bottomup|topdown|all] [--shared DATA] [--check]

DATA is the shared test data folder, ``../shared/data`` by default.

With ``--kind bottomup`` (the default) OUTPUT_DIR becomes a sleap-nn model directory
(``best.ckpt``, ``training_config.yaml``, and the training and validation labels as
``labels_gt.{train,val}.0.slp``). With ``--kind topdown`` it holds two of them, ``centroid/`` and
``multi_class_topdown/``, which a config lists together in ``pose.models``. With ``--kind all``
it holds both kinds, as ``bottomup/`` and ``topdown/`` laid out as above: one process then loads
sleap-nn and the tracked predictions once for the three models (the tests train them so).
Training is seeded and runs with a fixed number of torch threads, so a rerun gives the same
models on the same machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SHARED = REPO.parent / "shared" / "data"
VIDEO = "tracking/centered_pair_low_quality.mp4"
PREDICTIONS = "tracking/centered_pair_predictions.clean.slp"

NODES = ("head", "thorax", "abdomen")
CLASSES = ("1", "2")
TRAIN_FRAMES = np.linspace(0, 899, 200).round().astype(int)
# Halfway between two training frames, so never one of them.
VAL_FRAMES = ((TRAIN_FRAMES[:-1] + TRAIN_FRAMES[1:]) // 2)[::20]
EVAL_FRAMES = np.arange(900, 1100)

KINDS = {"bottomup": ("multi_class_bottomup",), "topdown": ("centroid", "multi_class_topdown")}
ALL = "all"

SEED = 0
# Results depend on the thread count (float summation order), so it is fixed.
THREADS = 2
STEPS = 700
EPOCHS = 7
BATCH_SIZE = 4
LEARNING_RATE = 3e-3
FRAME_SCALE = 0.375
# Crops of 128 px of the video (a fly is about 70 px long, head to abdomen), resized by 0.5.
CROP_SIZE = 128
CROP_SCALE = 0.5
FILTERS = 12
MAX_STRIDE = 16
OUTPUT_STRIDE = 4
# sleap-nn multiplies sigma by the output stride: 1.25 is 5 px of the scaled frame, 13 px of the
# video.
SIGMA = 1.25


def load_source(shared: Path):
    import sleap_io as sio

    return sio.load_slp(str(shared / PREDICTIONS), open_videos=False)


def build_labels(source, video_path: Path, frames):
    """User instances of ``NODES`` on ``frames`` of ``source``, each keeping its track.

    The source holds ``PredictedInstance``s, which sleap-nn's trainer ignores
    (``user_instances_only``), and its heads must use every node of the skeleton, hence the copy
    as user instances on a three-node skeleton.
    """
    import sleap_io as sio

    skeleton = sio.Skeleton(list(NODES), edges=[NODES[:2], NODES[1:]], name="fly3")
    tracks = {name: sio.Track(name=name) for name in CLASSES}
    video = sio.load_video(str(video_path.resolve()))
    columns = [source.skeleton.node_names.index(node) for node in NODES]
    by_index = {frame.frame_idx: frame for frame in source.labeled_frames}
    labeled = []
    for frame_idx in frames:
        instances = [
            sio.Instance.from_numpy(
                instance.numpy()[columns], skeleton=skeleton, track=tracks[instance.track.name]
            )
            for instance in by_index[int(frame_idx)].instances
        ]
        labeled.append(sio.LabeledFrame(video=video, frame_idx=int(frame_idx), instances=instances))
    return sio.Labels(
        labeled_frames=labeled, videos=[video], skeletons=[skeleton], tracks=list(tracks.values())
    )


def head_config(head: str) -> dict:
    """sleap-nn's head configuration of one model of the fixture."""
    # Listed, not left to sleap-nn, which takes them from a set of track names: their order,
    # hence which channel is which class, would change between runs.
    classes = list(CLASSES)
    confmaps = {"part_names": list(NODES), "sigma": SIGMA, "output_stride": OUTPUT_STRIDE}
    if head == "multi_class_bottomup":
        return {
            "confmaps": confmaps,
            "class_maps": {"classes": classes, "sigma": SIGMA, "output_stride": OUTPUT_STRIDE},
        }
    if head == "centroid":
        return {"confmaps": {"anchor_part": "thorax", "sigma": SIGMA, "output_stride": 4}}
    # multi_class_topdown: on 64 px crops a stride of 2 keeps keypoints precise; the class
    # vector pools the deepest features.
    return {
        "confmaps": {**confmaps, "anchor_part": "thorax", "sigma": 2 * SIGMA, "output_stride": 2},
        "class_vectors": {
            "classes": classes,
            "num_fc_layers": 1,
            "num_fc_units": 32,
            "output_stride": MAX_STRIDE,
        },
    }


def training_config(output: Path, steps: int, head: str = "multi_class_bottomup"):
    from sleap_nn.config.get_config import get_data_config, get_model_config, get_trainer_config
    from sleap_nn.config.trainer_config import CosineAnnealingWarmupConfig, LRSchedulerConfig
    from sleap_nn.config.training_job_config import TrainingJobConfig

    on_crops = head == "multi_class_topdown"
    data = get_data_config(
        scale=CROP_SCALE if on_crops else FRAME_SCALE,
        crop_size=CROP_SIZE if on_crops else None,
        data_pipeline_fw="torch_dataset_cache_img_memory",
        # Spelled out: sleap-nn's geometric defaults also scale every sample by 0.9-1.1.
        geometry_aug={
            "rotation_min": -180.0,
            "rotation_max": 180.0,
            "rotation_p": 1.0,
            "scale_min": 1.0,
            "scale_max": 1.0,
            "scale_p": 0.0,
        },
    )
    model = get_model_config(
        backbone_config={
            "unet": {
                "filters": FILTERS,
                "filters_rate": 1.5,
                "max_stride": MAX_STRIDE,
                "output_stride": 2 if on_crops else OUTPUT_STRIDE,
                "up_interpolate": True,
            }
        },
        head_configs={head: head_config(head)},
    )
    trainer = get_trainer_config(
        batch_size=BATCH_SIZE,
        trainer_accelerator="cpu",
        trainer_num_devices=1,
        enable_progress_bar=False,
        max_epochs=EPOCHS,
        # Both set, or sleap-nn raises the steps per epoch to its minimum of 200.
        min_train_steps_per_epoch=steps // EPOCHS,
        train_steps_per_epoch=steps // EPOCHS,
        seed=SEED,
        save_ckpt=True,
        ckpt_dir=str(output.parent),
        run_name=output.name,
        learning_rate=LEARNING_RATE,
    )
    # Decaying the rate over the short run sharpens the confidence maps: spurious peaks above
    # the inference threshold would otherwise be grouped in place of the true ones.
    trainer.lr_scheduler = LRSchedulerConfig(
        reduce_lr_on_plateau=None,
        cosine_annealing_warmup=CosineAnnealingWarmupConfig(
            warmup_epochs=0, eta_min=LEARNING_RATE / 20
        ),
    )
    config = TrainingJobConfig(data_config=data, model_config=model, trainer_config=trainer)
    return config.to_sleap_nn_cfg()


def train(
    shared: Path,
    output: Path,
    head: str = "multi_class_bottomup",
    steps: int = STEPS,
    source=None,
):
    """Train one model into ``output``; returns the seconds the training took. ``source`` is
    ``load_source(shared)``, loaded when not given."""
    from sleap_nn.training.model_trainer import ModelTrainer

    if source is None:
        source = load_source(shared)
    video = shared / VIDEO
    # The trainer is given the labels, not paths: sleap-nn's `train()` would also predict on
    # both splits and evaluate after training, which costs time and adds nothing here. They
    # are built for each model: the trainer may change the labels it is given.
    train_labels = build_labels(source, video, TRAIN_FRAMES)
    val_labels = build_labels(source, video, VAL_FRAMES)
    start = time.perf_counter()
    trainer = ModelTrainer.get_model_trainer_from_config(
        training_config(output, steps, head),
        train_labels=[train_labels],
        val_labels=[val_labels],
    )
    trainer.train()
    return time.perf_counter() - start


def model_dirs(output: Path, kind: str) -> list[Path]:
    """The model directories of one kind, in the order ``pose.models`` lists them; ``output`` is
    the OUTPUT_DIR given with that kind (or, for ``all``, its folder of that kind)."""
    heads = KINDS[kind]
    return [output] if len(heads) == 1 else [output / head for head in heads]


def kind_outputs(output: Path, kind: str) -> dict[str, Path]:
    """Where each kind that ``--kind`` names is trained: OUTPUT_DIR, or for ``all`` one folder
    per kind in it."""
    if kind == ALL:
        return {name: output / name for name in KINDS}
    return {kind: output}


def check(shared: Path, output: Path, kind: str = "bottomup") -> dict:
    """Scores of the models on frames 900-1099 against the tracked predictions file.

    Each predicted instance is matched to the ground-truth instance nearest to it (mean distance
    over the nodes both have); its identity is right when its class is that instance's track.
    """
    from sleap_nn.inference.predictor import Predictor

    truth = build_labels(load_source(shared), shared / VIDEO, EVAL_FRAMES)
    truth_by_index = {frame.frame_idx: frame.instances for frame in truth.labeled_frames}
    predictor = Predictor.from_model_paths(
        [str(path) for path in model_dirs(output, kind)], device="cpu"
    )
    predicted = predictor.predict(
        str((shared / VIDEO).resolve()), frames=[int(i) for i in EVAL_FRAMES]
    )
    found, correct, node_errors = 0, 0, []
    for frame in predicted.labeled_frames:
        gt = truth_by_index[frame.frame_idx]
        gt_points = np.stack([instance.numpy() for instance in gt])
        for instance in frame.instances:
            points = instance.numpy()
            if np.isnan(points).all():
                continue
            found += 1
            errors = np.linalg.norm(gt_points - points[None], axis=-1)
            shared_nodes = (~np.isnan(errors)).sum(axis=1)
            # A ground-truth instance sharing no node with the prediction is never the nearest.
            distance = np.where(
                shared_nodes, np.nansum(errors, axis=1) / shared_nodes.clip(1), np.inf
            )
            nearest = int(np.argmin(distance))
            correct += instance.track is not None and instance.track.name == gt[nearest].track.name
            node_errors.append(errors[nearest])
    node_errors = np.array(node_errors).reshape(-1, len(NODES))
    return {
        "instances_per_frame": found / len(EVAL_FRAMES),
        "identity_accuracy": correct / max(found, 1),
        "keypoint_error_px": float(np.nanmean(node_errors)),
        "keypoint_error_px_per_node": dict(
            zip(NODES, np.nanmean(node_errors, axis=0).round(1).tolist(), strict=True)
        ),
        "node_names": list(predicted.skeleton.node_names),
        "class_names": [track.name for track in predicted.tracks],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="model directory to create")
    parser.add_argument("--kind", choices=[*sorted(KINDS), ALL], default="bottomup")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared test data")
    parser.add_argument("--check", action="store_true", help="score the model on frames 900-1099")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps of each model")
    args = parser.parse_args(argv)
    outputs = kind_outputs(args.output.resolve(), args.kind)
    jobs = [
        (folder, head)
        for kind, output in outputs.items()
        for folder, head in zip(model_dirs(output, kind), KINDS[kind], strict=True)
    ]
    for folder, _ in jobs:
        if (folder / "best.ckpt").exists():
            # sleap-nn would not overwrite it but quietly train into OUTPUT_DIR-1 instead.
            parser.error(f"{folder} already holds a model")

    import torch

    torch.set_num_threads(THREADS)
    source = load_source(args.shared)
    for folder, head in jobs:
        folder.parent.mkdir(parents=True, exist_ok=True)
        seconds = train(args.shared, folder, head, args.steps, source)
        print(f"trained {head} into {folder} in {seconds:.1f} s")
    if args.check:
        for kind, output in outputs.items():
            for key, value in check(args.shared, output, kind).items():
                text = f"{value:.3f}" if isinstance(value, float) else value
                print(f"{kind} {key}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
