import pytest
import torch
from torch import nn

from facnn.evaluate import PixelRemoval, grid_shares, make_grids, pearson, pointing_game, removal_order


def test_pearson():
    a = torch.randn(4, 5, 5)
    assert torch.allclose(pearson(a, 2 * a + 1), torch.ones(4))
    assert torch.allclose(pearson(a, -a), -torch.ones(4))
    assert torch.isnan(pearson(torch.full((1, 5, 5), 0.1), a[:1])).all()
    with pytest.raises(ValueError, match="same shape"):
        pearson(a, a[:2])


def test_removal_order_breaks_ties_by_index():
    maps = torch.tensor([[[1.0, 3.0], [3.0, 0.0]]])
    assert removal_order(maps, "morf").tolist() == [[2, 0, 1, 3]]
    assert removal_order(maps, "lerf").tolist() == [[1, 2, 3, 0]]
    with pytest.raises(ValueError, match="order"):
        removal_order(maps, "random")


class BrightnessModel(nn.Module):
    """Predicts class 1 when the image mean exceeds 0.5."""

    def forward(self, x):
        s = (x.mean((1, 2, 3)) - 0.5) * 100
        return torch.stack([-s, s], 1)


def test_pixel_removal_curves():
    x = torch.ones(4, 1, 10, 10)
    y = torch.ones(4, dtype=torch.long)
    maps = torch.rand(4, 10, 10)
    pr = PixelRemoval(BrightnessModel(), [0, 40, 60, 100], "morf")
    pr.update(x[:2], y[:2], maps[:2])
    pr.update(x[2:], y[2:], maps[2:])
    res = pr.compute()
    assert res["accuracy"] == [1.0, 1.0, 0.0, 0.0] and res["n_images"] == 4
    # trapezoid: [0,.4]→1, [.4,.6]→1..0, [.6,1]→0  → area 0.4 + 0.1 = 0.5
    assert res["auc"] == pytest.approx(0.5)
    mean_fill = PixelRemoval(BrightnessModel(), [100], fill="mean", mean=[0.7])
    mean_fill.update(x, y, maps)
    assert mean_fill.compute()["accuracy"] == [1.0]
    blur = PixelRemoval(BrightnessModel(), [100], fill="blur")
    blur.update(x, y, maps)
    assert blur.compute()["accuracy"] == [1.0]  # blurring a constant image keeps it
    with pytest.raises(ValueError, match="update"):
        PixelRemoval(BrightnessModel()).compute()
    with pytest.raises(ValueError, match="maps must be"):
        PixelRemoval(BrightnessModel()).update(x, y, maps[:, :5])
    with pytest.raises(ValueError, match="fill"):
        PixelRemoval(BrightnessModel(), fill="noise")


def test_pointing_game_oracle_and_uniform():
    n, g, h = 3, 5, 8
    cells = torch.arange(g) % (n * n)
    oracle = torch.zeros(g, n * h, n * h)
    for i, c in enumerate(cells.tolist()):
        r, q = divmod(c, n)
        oracle[i, r * h : (r + 1) * h, q * h : (q + 1) * h] = torch.rand(h, h) + 0.1
    assert torch.allclose(grid_shares(oracle, cells, n), torch.ones(g))
    assert torch.allclose(grid_shares(torch.ones(g, n * h, n * h), cells, n), torch.full((g,), 1 / n**2))
    assert torch.equal(grid_shares(-torch.ones(g, n * h, n * h), cells, n), torch.zeros(g))


class PixelIndexModel(nn.Module):
    """Class c's logit is the value of pixel c (raster order)."""

    num_classes, in_channels, min_size = 9, 1, 1

    def forward(self, x):
        return x[:, 0].flatten(1)[:, :9]


def test_make_grids_and_pointing_game_end_to_end():
    # images of class c have one bright pixel at index c: the model is right and confident
    x = torch.zeros(27, 1, 4, 4)
    y = torch.arange(27) % 9
    x.view(27, 16)[torch.arange(27), y] = 10.0
    m = PixelIndexModel()
    grids, classes = make_grids(m, x, y, n=3, n_grids=4, seed=0)
    assert grids.shape == (4, 1, 12, 12) and classes.shape == (4, 9)
    assert all(len(set(row.tolist())) == 9 for row in classes)

    class Oracle:
        """Puts all attribution of class t on the cell that holds class t."""

        def attribute(self, g, t):
            maps = torch.zeros(len(g), 12, 12)
            for i in range(len(g)):
                r, q = divmod(int(torch.nonzero(classes[i] == t[i])[0]), 3)
                maps[i, r * 4 : (r + 1) * 4, q * 4 : (q + 1) * 4] = 1
            return maps

    scores = pointing_game(Oracle(), grids, classes, n=3)
    assert scores.shape == (4, 9) and torch.allclose(scores, torch.ones(4, 9))
    with pytest.raises(ValueError, match="grid needs"):
        make_grids(m, x[:5], y[:5], n=3)
