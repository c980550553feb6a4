"""The publisher replaces the shipped model file only when the weights change (issue #18)."""
import os

import torch
from conftest import load_script

publish = load_script('tools/model_converters/publish_default_model.py', 'publish_default_model')


def _checkpoint(path, value):
    torch.save({'state_dict': {'head.fc.weight': torch.full((2, 3), value)},
                'meta': {'dataset_meta': {'classes': ('normal', 'tuberculosis')}}}, path)
    return path


def test_the_model_file_is_rewritten_only_when_the_weights_change(tmp_path):
    out = tmp_path / 'default'
    out.mkdir()
    publish.write_weights(_checkpoint(tmp_path / 'a.pth', 0.5), out)
    model = out / 'model.pth'
    os.utime(model, ns=(1, 1))  # an old timestamp: any rewrite would change it
    publish.write_weights(_checkpoint(tmp_path / 'b.pth', 0.5), out)  # same weights, new file
    assert model.stat().st_mtime_ns == 1
    publish.write_weights(_checkpoint(tmp_path / 'c.pth', 0.25), out)  # new weights
    assert model.stat().st_mtime_ns != 1
    assert torch.equal(torch.load(model)['state_dict']['head.fc.weight'],
                       torch.full((2, 3), 0.25))
    os.utime(model, ns=(1, 1))
    publish.write_weights(_checkpoint(tmp_path / 'd.pth', 0.25), out, fp16=True)  # new dtype
    assert model.stat().st_mtime_ns != 1
