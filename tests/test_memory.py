"""Training in less memory: activation checkpointing of the aligned layers and gradient accumulation
give the gradients (and batch-norm statistics) of the plain step."""

import copy

import pytest
import torch
from torch import nn

from facnn import FACNN
from facnn.models.resnet import ResNet
from facnn.train import TrainConfig
from facnn.train.loop import training_loss
from facnn.train.memory import accumulated_backward, checkpointed_layers


def _grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def _saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    total = [0]

    def pack(t):
        total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum().backward()
    return total[0]


@pytest.mark.parametrize("segment", [1, 2, 4])
def test_checkpointed_layers_give_the_same_gradients_and_statistics_in_less_memory(segment):
    torch.manual_seed(0)
    plain = FACNN(4, in_channels=1, depth=4, hidden=8, zero_init=False).train()
    ckpt = copy.deepcopy(plain)
    x = torch.rand(8, 1, 16, 16)
    plain(x).square().sum().backward()
    with checkpointed_layers(ckpt, segment) as n:
        ckpt(x).square().sum().backward()
    assert n == -(-4 // segment)
    g0, g1 = _grads(plain), _grads(ckpt)
    assert g0.keys() == g1.keys()
    for k in g0:
        torch.testing.assert_close(g1[k], g0[k], rtol=1e-5, atol=1e-6, msg=k)
    for (k, a), (_, b) in zip(plain.state_dict().items(), ckpt.state_dict().items()):
        torch.testing.assert_close(b, a, msg=k)  # running statistics moved once, keys unchanged
    assert all("forward" not in vars(layer) for layer in ckpt.layers)  # the instance patches are gone
    fresh = copy.deepcopy(plain)
    plain_bytes = _saved_bytes(fresh, x)
    with checkpointed_layers(fresh, segment):
        ckpt_bytes = _saved_bytes(fresh, x)
    assert ckpt_bytes < plain_bytes, (ckpt_bytes, plain_bytes)


def test_checkpointing_is_refused_for_models_without_aligned_layers():
    with pytest.raises(ValueError, match="set checkpoint_layers 0"):
        with checkpointed_layers(ResNet(10, in_channels=1)):
            pass
    with pytest.raises(ValueError, match="segment=0"):
        with checkpointed_layers(FACNN(3, in_channels=1, depth=2), 0):
            pass


def test_accumulated_chunks_give_the_batch_gradient():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))  # no batch norm
    x, y = torch.rand(10, 1, 8, 8), torch.randint(0, 3, (10,))
    grads = []
    for k in (1, 3, 4):
        net.zero_grad()
        cfg = TrainConfig(dataset="digits", model="resnet")
        loss, logits = accumulated_backward(net, x, y, lambda z, t: training_loss(cfg, z, t), k)
        assert logits.shape == (10, 3)
        grads.append((loss, _grads(net)))
    for loss, g in grads[1:]:
        torch.testing.assert_close(loss, grads[0][0], rtol=1e-6, atol=1e-7)
        for name in g:
            torch.testing.assert_close(g[name], grads[0][1][name], rtol=1e-5, atol=1e-7)


def test_training_with_both_runs_and_the_options_are_validated(tmp_path):
    from facnn.train import train

    cfg = TrainConfig(
        model="facnn",
        dataset="digits",
        epochs=1,
        batch_size=64,
        accumulate=2,
        checkpoint_layers=2,
        train_subset=256,
        model_config=dict(depth=2, hidden=8, maps_per_class=2),
    )
    _, results = train(cfg, out_dir=tmp_path / "run", progress=False)
    assert results["history"][0]["train_loss"] > 0
    assert cfg.key() != TrainConfig(**{**cfg.__dict__, "accumulate": 1}).key()  # chunked batch norm: new weights
    assert cfg.key() == TrainConfig(**{**cfg.__dict__, "checkpoint_layers": 0}).key()  # same weights
    with pytest.raises(ValueError, match="accumulate=0"):
        TrainConfig(accumulate=0)
    with pytest.raises(ValueError, match="checkpoint_layers=-1"):
        TrainConfig(checkpoint_layers=-1)
