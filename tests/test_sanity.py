"""Model-randomisation sanity checks (Adebayo et al. 2018) on small models."""

import copy

import numpy as np
import pytest
import torch

from facnn import FACNN, ClassMaps, CoDANet, GradCAM, RandomMaps, ResNet
from facnn.evaluate import (
    cascading_randomisation,
    independent_randomisation,
    layer_order,
    randomise,
    randomise_batchnorm,
    similarities,
)


def small_facnn():
    torch.manual_seed(0)
    return randomise_batchnorm(FACNN(4, maps_per_class=2, depth=4, hidden=8, zero_init=False, pool_at=[2]))


X = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(1))
Y = torch.tensor([0, 1, 2, 3, 0, 1])


def test_layer_order_is_output_first():
    assert [n for n, _ in layer_order(small_facnn())] == ["layers.3", "layers.2", "layers.1", "layers.0"]
    assert [n for n, _ in layer_order(ResNet(10))][:2] == ["fc", "stages.2"]
    assert [n for n, _ in layer_order(CoDANet(10))][0] == "layers.8"


def test_randomise_is_seeded_and_changes_every_parameter():
    a, b = small_facnn(), small_facnn()
    randomise(a.layers[1], 3)
    randomise(b.layers[1], 3)
    for (name, p), q in zip(a.layers[1].state_dict().items(), b.layers[1].state_dict().values()):
        assert torch.equal(p, q), name
    before = small_facnn().layers[1].state_dict()
    for name, p in a.layers[1].state_dict().items():
        if p.is_floating_point() and p.numel() > 1:
            assert not torch.equal(p, before[name]), name


def test_maps_below_the_randomised_layers_do_not_change():
    model = small_facnn()
    rows = cascading_randomisation(model, lambda m, x, y: ClassMaps(m, 2).attribute(x, y), X, Y)
    assert [len(r["randomised"]) for r in rows] == [0, 1, 2, 3, 4]
    for r in rows[:3]:  # layers 4 and 3 randomised: the map at layer 2 is untouched
        np.testing.assert_allclose(r["spearman"], 1.0)
    assert rows[3]["spearman"].mean() < 0.999  # layer 2 itself randomised


def test_gradcam_on_a_resnet_depends_on_the_layers_above_it():
    torch.manual_seed(0)
    model = randomise_batchnorm(ResNet(4, width=8))
    rows = independent_randomisation(model, lambda m, x, y: GradCAM(m, "stages.1").attribute(x, y), X, Y)
    assert rows[1]["randomised"] == ["fc"] and rows[1]["spearman"].mean() < 0.9  # the weights α come from the top


def test_similarity_scores():
    a = torch.rand(4, 12, 12, generator=torch.Generator().manual_seed(0))
    same = similarities(a, a)
    for v in same.values():
        np.testing.assert_allclose(v, 1.0, atol=1e-9)
    flipped = similarities(a, -a)
    np.testing.assert_allclose(flipped["spearman"], -1.0, atol=1e-9)
    np.testing.assert_allclose(flipped["spearman_abs"], 1.0, atol=1e-9)
    noise = similarities(a, RandomMaps(small_facnn(), seed=5).attribute(torch.rand(4, 1, 12, 12), 0))
    assert abs(noise["spearman"].mean()) < 0.2


def test_data_randomisation_compares_each_method_with_its_twin():
    import facnn
    from facnn.evaluate import data_randomisation

    torch.manual_seed(0)
    a = randomise_batchnorm(ResNet(10, width=8)).eval()
    same = copy.deepcopy(a)
    other = randomise_batchnorm(ResNet(10, width=8)).eval()
    x, y = torch.rand(6, 1, 28, 28), torch.arange(6)
    ex = {
        "occlusion": (a, facnn.make_explainer(a, "occlusion", window=7), None),
        "CoDA": (facnn.CoDANet(10), None, None),
    }  # no twin: left out
    identical = data_randomisation(ex, {a: same}, x, y)
    assert [r["method"] for r in identical] == ["occlusion"]
    assert identical[0]["spearman"]["value"] > 0.999
    differs = data_randomisation(ex, {a: other}, x, y)
    assert differs[0]["spearman"]["value"] < 0.9


def test_shuffled_labels_keep_the_histogram_and_change_the_cache_key():
    from facnn.data import load_dataset
    from facnn.train import TrainConfig

    ds = load_dataset("digits", "train")
    sh = ds.with_shuffled_labels(0)
    assert torch.equal(sh.images, ds.images) and torch.equal(sh.labels.sort().values, ds.labels.sort().values)
    assert (sh.labels != ds.labels).float().mean() > 0.5
    assert torch.equal(sh.labels, ds.with_shuffled_labels(0).labels)  # seeded
    base = TrainConfig(dataset="digits")
    assert TrainConfig(dataset="digits", shuffle_labels=True).key() != base.key()
    with pytest.raises(ValueError, match="shuffle_labels"):
        TrainConfig(dataset="digits", shuffle_labels="yes")


def test_example_maps_are_the_maps_the_cascade_measures():
    import facnn
    from facnn.evaluate import example_maps

    torch.manual_seed(0)
    m = randomise_batchnorm(FACNN(4, depth=3, hidden=8, zero_init=False)).eval()
    x, y = torch.rand(2, 1, 16, 16), torch.tensor([1, 2])
    ex = {"maps": (m, facnn.make_explainer(m, "intrinsic", layer=3), 3)}
    titles, rows = example_maps(ex, x, y, index=1, fractions=(0.0, 1.0))
    assert titles == ["0% of layers random", "100% of layers random"] and rows["maps"].shape == (2, 16, 16)
    np.testing.assert_allclose(rows["maps"][0], ex["maps"][1].attribute(x[1:], y[1:])[0].numpy(), rtol=1e-5, atol=1e-6)
    full = cascading_randomisation(
        m, lambda mm, xx, yy: facnn.make_explainer(mm, "intrinsic", layer=3).attribute(xx, yy), x[1:], y[1:]
    )
    assert len(full) == len(layer_order(m)) + 1 and not np.allclose(rows["maps"][1], rows["maps"][0])
