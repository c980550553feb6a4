"""The FPN neck fuses several stages and pools to one vector."""
import pytest
import torch

from mmtb.models import FPNNeck


def test_fpn_neck_pools_levels_to_one_vector():
    neck = FPNNeck(in_channels=[8, 16, 32], out_channels=12)
    feats = (torch.rand(2, 8, 16, 16), torch.rand(2, 16, 8, 8), torch.rand(2, 32, 4, 4))
    (vector,) = neck(feats)
    assert vector.shape == (2, 12)
    levels = neck.forward_pyramid(feats)
    assert [lvl.shape[-1] for lvl in levels] == [16, 8, 4]
    assert all(lvl.shape[1] == 12 for lvl in levels)


def test_fpn_neck_is_top_down():
    """A change in the coarsest stage reaches the finest pyramid level (top-down pathway)."""
    neck = FPNNeck(in_channels=[4, 4], out_channels=4).eval()
    fine, coarse = torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 4, 4)
    before = neck.forward_pyramid((fine, coarse))[0]
    after = neck.forward_pyramid((fine, coarse + 1))[0]
    assert not torch.allclose(before, after)


def test_fpn_neck_rejects_wrong_number_of_stages():
    with pytest.raises(ValueError, match='out_indices'):
        FPNNeck(in_channels=[8, 16])((torch.rand(1, 8, 4, 4),))
