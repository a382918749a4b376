"""What a run keeps besides the labels, from the same forward pass (core.runtime.kept): the
class-activation maps equal the on-demand CAM and agree across torch, ONNX Runtime and int8;
the embedding is what the classification layer sees; the memory budget holds; a cached export
stands in for a checkpoint only when its graph has the outputs the run keeps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pigeonhole.core.data.images import load_image
from pigeonhole.core.data.preprocessing import preprocess
from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.insight.heatmaps import cam_maps
from pigeonhole.core.models.archs import get_head
from pigeonhole.core.runtime.fusion import fuse_conv_bn
from pigeonhole.core.runtime.inference import classify_paths
from pigeonhole.core.runtime.kept import (
    ALL_MAPS_UP_TO,
    TOP_MAPS,
    Keep,
    Keeper,
    normalised_maps,
    quantised,
)
from tests.core.train_helpers import DECISIVE_CLASSES, small_base

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("kept")
    return make_class_folders(root, 4, DECISIVE_CLASSES, size=(200, 150), seed=900)


def _on_demand(loaded, preds):
    """CAM and the head's input computed the usual way (hooks, one pass), for comparison."""
    x = torch.stack([preprocess(load_image(p.path), loaded.transform) for p in preds])
    seen = {}
    hook = get_head(loaded.model, loaded.arch).register_forward_pre_hook(
        lambda _m, args: seen.setdefault("x", args[0].detach().flatten(1))
    )
    try:
        maps = cam_maps(loaded.model.eval(), loaded.arch, x)
    finally:
        hook.remove()
    return maps, seen["x"].numpy()


def _r(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def test_maps_and_embeddings_come_from_the_run_on_every_engine(decisive, photos):
    runs = {}
    for engine, precision in (("torch", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "int8")):
        preds, summary = classify_paths(
            decisive, [photos], device="cpu", engine=engine, precision=precision,
            keep=Keep(), calibration=[photos],
        )  # fmt: skip
        assert (summary.engine, summary.precision) == (engine, precision)
        runs[precision if engine != "torch" else "torch"] = preds
    maps, embeddings = _on_demand(decisive, runs["torch"])
    classes = len(decisive.class_names)
    int8_r, int8_peaks = [], 0
    for name, preds in runs.items():
        for p, ref, emb in zip(preds, maps, embeddings, strict=True):
            kept = p.maps.for_class(ref.class_index)
            assert p.maps.method == "CAM" and p.maps.classes == tuple(range(classes))
            assert p.maps.values.dtype == np.uint8 and p.maps.values.shape[1:] == ref.values.shape
            got = p.embedding.astype(np.float32)
            if name == "int8":  # quantised: the same picture, not the same numbers
                int8_r.append(_r(kept, ref.values))
                int8_peaks += kept.argmax() == ref.values.argmax()
                assert _r(got, emb) >= 0.95
            else:
                assert np.abs(kept - ref.values).max() <= 2 / 255  # uint8 rounding
                assert np.abs(got - emb).max() <= 2e-3 * np.abs(emb).max()  # float16
    # int8's own maps (its quantised feature map) on a random backbone's 2x2 grid: mostly the
    # peak in the same place and a similar map; which images differ depends on the images
    # that calibrated it (cached by weights, so on the tests run before)
    print(f"int8 maps: r {np.median(int8_r):.3f} (min {min(int8_r):.3f}), peaks {int8_peaks}")
    assert int8_peaks >= 0.75 * len(int8_r) and np.median(int8_r) >= 0.9


def test_a_run_without_keep_keeps_nothing(decisive, photos):
    preds, _ = classify_paths(decisive, [photos], device="cpu", engine="onnxruntime")
    assert all(p.maps is None and p.embedding is None for p in preds)


def test_a_gradcam_family_keeps_its_embedding_and_no_map(photos):
    loaded = small_base("mobilenet_v3_small")
    preds, _ = classify_paths(loaded, [photos], device="cpu", engine="torch", keep=Keep())
    head_in = get_head(loaded.model, loaded.arch).in_features
    assert all(p.maps is None and p.embedding.shape == (head_in,) for p in preds)


def test_many_classes_keep_their_top_classes_maps_and_the_budget_holds():
    rng = np.random.default_rng(0)
    extras = {"cam": rng.normal(size=(3, 1000, 7, 7)), "embedding": rng.normal(size=(3, 512))}
    top = np.array([[5, 9, 1], [7, 2, 3], [0, 4, 8]])
    keeper = Keeper(Keep(budget_bytes=2000), classes=1000)
    rows = keeper.rows(extras, top)
    assert rows[0][1].classes == (5, 9, 1) and rows[0][1].for_class(2) is None
    want = normalised_maps(extras["cam"][1, 2])
    assert np.abs(rows[1][1].for_class(2) - want).max() <= 1 / 255
    later = keeper.rows(extras, top)  # 3 x (1024 + 147) bytes spent: over 2000
    assert later == [(None, None)] * 3 and keeper.dropped == 3
    assert Keeper(Keep(), classes=ALL_MAPS_UP_TO).all_classes


def test_many_classes_make_only_their_top_maps_in_the_graph_on_every_engine(photos):
    """1000 classes: the graph makes the best TOP_MAPS classes' maps, not 1000 (ResNet-50 lost
    ~5 % of its throughput to them); a run keeps its top-k's, which are the on-demand CAMs."""
    loaded = small_base()
    names = loaded.class_names
    for engine, precision in (("torch", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "int8")):
        preds, _ = classify_paths(
            loaded, [photos], device="cpu", engine=engine, precision=precision, topk=3,
            keep=Keep(), calibration=[photos],
        )  # fmt: skip
        for p in preds:
            top = tuple(names.index(name) for name, _ in p.topk)
            assert p.maps.classes == top and p.maps.values.shape[0] == 3
        if precision == "int8":  # its own top classes (checked above); its numbers differ
            continue
        refs = _on_demand_for(loaded, preds)
        for p, ref in zip(preds, refs, strict=True):
            assert np.abs(p.maps.values.astype(int) - ref).max() <= 2  # uint8 rounding


def _on_demand_for(loaded, preds) -> list[np.ndarray]:
    """Each prediction's kept classes' CAMs, computed on demand, as the run quantises them."""
    x = torch.stack([preprocess(load_image(p.path), loaded.transform) for p in preds])
    out = []
    for i, p in enumerate(preds):
        maps = cam_maps(loaded.model.eval(), loaded.arch, x[i : i + 1].expand(3, -1, -1, -1),
                        list(p.maps.classes))  # fmt: skip
        out.append(quantised(np.stack([m.values for m in maps])).astype(int))
    return out


def test_a_graph_of_top_maps_is_kept_as_made_up_to_the_runs_top_k():
    """The Keeper takes the run's top-k classes' maps from those the graph made (a class it did
    not make, by a tie of two scores or beyond its TOP_MAPS, is left out)."""
    rng = np.random.default_rng(1)
    extras = {
        "cam": rng.normal(size=(2, TOP_MAPS, 7, 7)),
        "cam_classes": np.array([[9, 4, 7, 1, 0], [3, 2, 5, 8, 6]], dtype=np.float32),
    }
    keeper = Keeper(Keep(embeddings=False), classes=1000)
    rows = keeper.rows(extras, np.array([[9, 4], [2, 3]]))
    assert [m.classes for _, m in rows] == [(9, 4), (2, 3)]
    assert np.array_equal(rows[1][1].values, quantised(extras["cam"][1, [1, 0]]))
    assert rows[0][0] is None and keeper.images == 2 and keeper.used == 2 * 2 * 49
    (_, tie), _ = keeper.rows(extras, np.array([[42, 9], [3, 6]]))
    assert tie.classes == (9,) and np.array_equal(tie.values, quantised(extras["cam"][0, :1]))


def test_fusion_keeps_the_layers_a_run_reads(decisive):
    fused = fuse_conv_bn(decisive.model)
    names = {n for n, _ in fused.named_modules()}
    assert {"layer4", "fc"} <= names
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(fused(x), decisive.model.eval()(x), atol=1e-4)


def test_a_run_leaves_the_loaded_model_in_eval_mode(decisive, photos):
    """The export of the network with its extra outputs once put the model back in training
    mode (the wrapper's default), which broke BatchNorm on one image afterwards."""
    from pigeonhole.core.runtime.engine import torch_model_step
    from pigeonhole.core.runtime.options import RunOptions
    from pigeonhole.core.runtime.plan import plan_run

    decisive.model.eval()
    plan = plan_run(decisive.arch, RunOptions(device="cpu", engine="onnxruntime"))
    torch_model_step(decisive, plan, keep=Keep())
    assert not any(m.training for m in decisive.model.modules())
