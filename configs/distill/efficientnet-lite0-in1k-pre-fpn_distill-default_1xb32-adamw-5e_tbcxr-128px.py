# The distillation student at the teacher's own input size, 128 px (the 224 px student lost the
# teacher's transfer to other hospitals, and 128 px is where the shortcut study found this
# recipe transferring best); the input size is the only change. Same soft targets.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_distill-default_1xb32-adamw-5e_tbcxr-224px.py']

img_size = 128
# the base with this size in every LoadGreyXray and RandomResizedCrop, in its pipelines
# and the blocks they are made of, as tools/train.py --img-size sets it (tests/test_configs.py)
from mmtb.utils.config import at_input_size  # noqa: E402  (runs while the config is read)

globals().update(at_input_size(_base_, img_size))
