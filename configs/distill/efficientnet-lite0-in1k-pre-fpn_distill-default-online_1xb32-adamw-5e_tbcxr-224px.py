# The online-teacher student (issue #19) at 224 px: the 128 px one below with only the student's
# input size changed. The default's members were trained at 128 px, so the teacher scores each
# augmented batch resized to 128 px (teacher.input_size), as it would in use; the student sees
# the same X-rays at 224 px, where the internal split's fine detail survives the resize.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_distill-default-online_1xb32-adamw-5e_tbcxr-128px.py']

img_size = 224
from mmtb.utils.config import at_input_size  # noqa: E402  (runs while the config is read)

globals().update(at_input_size(_base_, img_size))
model = dict(teacher=dict(input_size=128))
