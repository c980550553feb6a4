# What ran in results/robust_128px/: the config below at 128 px, the input size being the only
# change.
_base_ = [
    './efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust-noshift_1xb32-adamw-5e_tbcxr-512px.py'
]

img_size = 128
# the base with this size in every LoadGreyXray and RandomResizedCrop, in its pipelines
# and the blocks they are made of, as tools/train.py --img-size sets it (tests/test_configs.py)
from mmtb.utils.config import at_input_size  # noqa: E402  (runs while the config is read)

globals().update(at_input_size(_base_, img_size))
