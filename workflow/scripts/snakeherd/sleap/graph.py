"""Edits to sleap-nn's exported ONNX graphs that let the stage reproduce the checkpoint path.

Runs inside the SLEAP environment, in the export rule. :func:`expose_confmaps` adds the maps
behind a graph's peak finder as outputs, so :mod:`.corrections` can refine peaks as the
checkpoint path does; :func:`antialias_input_resize` makes a graph shrink its input antialiased,
as the checkpoint path's torchvision resize does.
"""

from __future__ import annotations

from pathlib import Path

CONFMAPS_OUTPUT = "confmaps"
CLASS_MAPS_OUTPUT = "class_maps"
# sleap-nn's one-graph top-down bundles (export_metadata model_type) and the training config of
# their instance model, copied into the bundle. The stage exports pairs one model each; bundles
# exported by earlier versions still run, with the corrections of :mod:`.corrections`. The
# multi-class bundle cuts and maps back its crops exactly as the plain one does, so both get the
# same ones.
TOPDOWN_BUNDLES = {
    "topdown": "training_config_centered_instance.yaml",
    "multi_class_topdown_combined": "training_config_multi_class_topdown.yaml",
}
# Graphs that find each keypoint with a global peak (ArgMax) or many with local peaks (TopK).
GLOBAL_PEAK_TYPES = (
    "single_instance",
    "centered_instance",
    "multi_class_topdown",  # the instance model of a multi-class pair, on crops
    *TOPDOWN_BUNDLES,
)
LOCAL_PEAK_TYPES = ("bottomup", "multi_class_bottomup", "centroid")


def expose_confmaps(model_path: str | Path, model_type: str) -> bool:
    """Add the confidence maps behind the graph's peak finder as output ``confmaps``.

    sleap-nn's single-instance, centered-instance and top-down graphs find each keypoint with an
    ArgMax over the instance model's maps (Reshape → ArgMax); its bottom-up graphs find all peaks
    with one TopK over the maps masked to their local maxima (Reshape → Where → TopK), and so
    does a centroid graph (its single-channel maps reshaped twice). Exposing the maps lets the
    stage refine peaks as the checkpoint path does. A multi-class bottom-up graph also gets its
    class maps (what its one GridSample reads) as output ``class_maps``, to read classes at the
    refined peaks. Returns False (graph unchanged) for other model types (a top-down bundle's
    centroids), for a graph that already exposes the maps, and for one laid out otherwise.
    """
    import onnx
    from onnx import helper

    model_path = Path(model_path)
    model = onnx.load(str(model_path))
    graph = model.graph
    if any(output.name == CONFMAPS_OUTPUT for output in graph.output):
        return False
    if model_type not in (*GLOBAL_PEAK_TYPES, *LOCAL_PEAK_TYPES):
        return False
    producers = {out: node for node in graph.node for out in node.output}

    def only(op_type):
        nodes = [node for node in graph.node if node.op_type == op_type]
        return nodes[0] if len(nodes) == 1 else None

    finder = only("ArgMax" if model_type in GLOBAL_PEAK_TYPES else "TopK")
    if finder is None:
        return False
    maps_input = finder.input[0]
    if finder.op_type == "TopK":
        mask = producers.get(maps_input)
        if mask is None or mask.op_type != "Where":
            return False
        maps_input = mask.input[1]
    reshape = producers.get(maps_input)
    if reshape is None or reshape.op_type != "Reshape":
        return False
    while (earlier := producers.get(reshape.input[0])) is not None and earlier.op_type == "Reshape":
        reshape = earlier
    exposed = {CONFMAPS_OUTPUT: reshape.input[0]}
    if model_type == "multi_class_bottomup":
        sampler = only("GridSample")
        if sampler is None:
            return False
        exposed[CLASS_MAPS_OUTPUT] = sampler.input[0]
    for name, tensor in exposed.items():
        graph.node.append(helper.make_node("Identity", [tensor], [name]))
        graph.output.append(
            helper.make_tensor_value_info(
                name, onnx.TensorProto.FLOAT, ["n", "channels", "height", "width"]
            )
        )
    _save_graph(model, model_path)
    return True


# Resize learned antialiasing at this ONNX opset.
ANTIALIAS_OPSET = 18


def antialias_input_resize(model_path: str | Path) -> bool:
    """Make the graph scale its input as the checkpoint path does: antialiased.

    A model trained at an input scale below 1 sees its frames (or crops) shrunk first. sleap-nn's
    graphs shrink them with ``interpolate`` (bilinear, no antialiasing); the checkpoint path
    resizes with torchvision, which antialiases; on a model of small input scale the difference
    moves keypoints by pixels (the README has the numbers). Returns False (graph unchanged) when
    the graph does not resize its input.
    """
    import onnx
    from onnx import helper, version_converter

    model_path = Path(model_path)
    model = onnx.load(str(model_path))

    def input_resizes(graph):
        """The Resize nodes fed by the graph input through elementwise steps (normalisation)."""
        producers = {out: node for node in graph.node for out in node.output}
        source = graph.input[0].name

        def from_input(tensor):
            while tensor != source:
                node = producers.get(tensor)
                if node is None or node.op_type not in ("Cast", "Div", "Mul", "Sub", "Identity"):
                    return False
                tensor = node.input[0]
            return True

        resizes = [node for node in graph.node if node.op_type == "Resize"]
        return [node for node in resizes if from_input(node.input[0])]

    if not input_resizes(model.graph):
        return False
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < ANTIALIAS_OPSET:
        model = version_converter.convert_version(model, ANTIALIAS_OPSET)
    for node in input_resizes(model.graph):
        kept = [a for a in node.attribute if a.name != "antialias"]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute("antialias", 1)])
    _save_graph(model, model_path)
    return True


def _save_graph(model, model_path: Path) -> None:
    """Check and write a changed graph, its weights in the external file if it had one."""
    import onnx

    onnx.checker.check_model(model)
    external = model_path.with_name(model_path.name + ".data")
    if external.exists():
        onnx.save(
            model,
            str(model_path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=external.name,
        )
    else:
        onnx.save(model, str(model_path))
