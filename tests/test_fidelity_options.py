"""The options that let a run follow the authors' recipes (docs/fidelity.md): the BCE reduction
(``loss_reduction``), CoDA-Net's reference initialisation (``init``) and B-cos's fixed per-layer gain
and stabiliser (``gain``, ``stabiliser``). Their defaults leave every shipped config, key and model
config as it was, so the shipped weights and committed records still match."""

from __future__ import annotations

import pytest
import torch

from facnn import BcosNet, CoDANet
from facnn.core.registry import build_model
from facnn.models.bcos import V1_CIFAR10_GAIN, V1_CIFAR10_TEMPERATURE
from facnn.train import TrainConfig, load_config, shipped_for
from facnn.train.cli import config_from_args
from facnn.train.loop import training_loss


def test_defaults_keep_the_shipped_configs_and_model_configs():
    assert shipped_for(load_config("fashion_mnist_coda", epochs=10)) == "fashion-mnist/coda"
    assert shipped_for(load_config("fashion_mnist_bcos", epochs=10)) == "fashion-mnist/bcos"
    assert shipped_for(load_config("fashion_mnist_coda", epochs=10, loss_reduction="mean")) is None
    assert load_config("fashion_mnist_coda").loss_reduction == "sum_classes"
    for m in (CoDANet(10), BcosNet(10), CoDANet(10, init="facnn"), BcosNet(10, stabiliser="facnn")):
        assert not {"init", "gain", "stabiliser"} & set(m.config)


def test_loss_reduction_is_checked_and_reaches_the_command_line():
    with pytest.raises(ValueError, match="loss_reduction='mean' applies to loss='bce' only: set loss='bce'"):
        TrainConfig(dataset="digits", loss="ce", loss_reduction="mean")
    with pytest.raises(ValueError, match=r"loss_reduction='sum': choose one of \['sum_classes', 'mean'\]"):
        TrainConfig(dataset="digits", loss="bce", loss_reduction="sum")
    cfg, _ = config_from_args(["--config", "fashion_mnist_coda", "--loss-reduction", "mean"])
    assert cfg.loss_reduction == "mean" and cfg.key() != load_config("fashion_mnist_coda").key()
    with pytest.raises(SystemExit):
        config_from_args(["--config", "fashion_mnist_coda", "--loss-reduction", "batch"])


def test_mean_reduction_is_ours_divided_by_the_classes():
    torch.manual_seed(0)
    logits, y = torch.randn(8, 10, requires_grad=True), torch.randint(0, 10, (8,))
    ours = training_loss(TrainConfig(dataset="digits", loss="bce"), logits, y)
    theirs = training_loss(TrainConfig(dataset="digits", loss="bce", loss_reduction="mean"), logits, y)
    torch.testing.assert_close(ours / 10, theirs)
    torch.testing.assert_close(
        theirs, torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.eye(10)[y])
    )  # the authors' BCEWithLogitsLoss() on one-hot targets
    (g_ours,) = torch.autograd.grad(ours, logits)
    (g_theirs,) = torch.autograd.grad(theirs, logits)
    torch.testing.assert_close(g_ours / 10, g_theirs)


def test_under_adam_the_reduction_changes_the_weights_only_by_rounding():
    """Adam's step is invariant to a constant loss scale (up to its ε = 1e-8 against √v): ten steps
    of the training loop's optimisers end with the same CoDA-Net weights to < 1e-4 relative under
    either reduction; with SGD the same switch is a 10× smaller step."""
    torch.manual_seed(0)
    x, y = torch.rand(10, 32, 1, 8, 8), torch.randint(0, 4, (10, 32))
    mc = dict(kernels=[3, 1], strides=[1, 1], channels=[6], ranks=[4, 4], temperature=10.0)
    start = CoDANet(4, **mc).state_dict()
    params = {}
    for red in ("sum_classes", "mean"):
        for opt in ("adamw", "sgd"):
            cfg = TrainConfig(
                model="coda", dataset="digits", loss="bce", loss_reduction=red, optimizer=opt, lr=1e-3, weight_decay=0.0
            )
            model = CoDANet(4, **mc)
            model.load_state_dict(start)
            optimiser = (  # as the training loop builds them
                torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
                if opt == "adamw"
                else torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True)
            )
            for xb, yb in zip(x, y):
                optimiser.zero_grad()
                training_loss(cfg, model(xb), yb).backward()
                optimiser.step()
            params[red, opt] = torch.cat([p.detach().flatten() for p in model.parameters()])
    moved = {
        opt: (params["sum_classes", opt] - torch.cat([p.flatten() for p in start.values()])).norm()
        for opt in ("adamw", "sgd")
    }

    def rel(opt: str) -> float:
        return ((params["sum_classes", opt] - params["mean", opt]).norm() / moved[opt]).item()

    assert rel("adamw") < 1e-4  # of the distance the weights moved
    assert 0.5 < rel("sgd") < 1.0  # SGD: the "mean" run moves ~1/10 as far (measured 0.75 of the way apart)


def test_model_options_pass_through_configs_and_rebuild():
    cfg = load_config(
        "fashion_mnist_bcos",
        model_config={"gain": V1_CIFAR10_GAIN, "temperature": V1_CIFAR10_TEMPERATURE, "stabiliser": "bcos"},
    )
    assert cfg.model_config["gain"] == V1_CIFAR10_GAIN
    load_config("fashion_mnist_coda", model_config={"init": "reference"})
    torch.manual_seed(0)
    for name, kw in (
        ("bcos", dict(gain=V1_CIFAR10_GAIN, temperature=100.0, stabiliser="bcos")),
        ("coda", dict(init="reference")),
    ):
        layout = dict(kernels=[3, 1], strides=[1, 1], channels=[4])
        if name == "coda":
            layout["ranks"] = [3, 3]
        m = build_model(name, dict(num_classes=3, **layout, **kw))
        again = build_model(name, m.config)
        again.load_state_dict(m.state_dict())
        x = torch.rand(2, 1, 6, 6)
        torch.testing.assert_close(again(x), m(x))
        assert all(m.config[k] == v for k, v in kw.items())
    assert all(layer.gain == V1_CIFAR10_GAIN for layer in BcosNet(10, gain=V1_CIFAR10_GAIN).bcos_layers())


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(gain=0.0), r"gain=0 is out of range: expected > 0"),
        (dict(gain=-1.0), r"gain=-1 is out of range: expected > 0"),
        (dict(stabiliser="reference"), r"stabiliser='reference': choose one of \['facnn', 'bcos'\]"),
    ],
)
def test_bad_bcos_options_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        BcosNet(10, **kw)


def test_bad_coda_init_is_refused():
    with pytest.raises(ValueError, match=r"init='xavier': choose one of \['facnn', 'reference'\]"):
        CoDANet(10, init="xavier")
