"""Several preprocessings of one X-ray side by side, for ensembles whose members differ in it.

The shortcut study's recipes differ in their deterministic cue removal (marks masked or not,
lung field cropped or not, CLAHE or not) and no one of them was measurably better than the
others on another hospital, so an ensemble can keep several. Each member must then see the
input its recipe prepares. ``PreprocessingViews`` runs each view's steps on its own copy of the
loaded grey image and concatenates the results along the channels (HxWx3V for the 3-channel
grey that ``LoadGreyXray`` writes); ``SeedEnsembleClassifier`` with ``member_views`` gives each
member its view's 3 channels, so every member is normalised and fed exactly as in training.
The data_preprocessor's mean/std are the recipes' own, repeated once per view.
"""
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.registry import TRANSFORMS

from .cue_removal import grey_of, with_channels_of

__all__ = ['PreprocessingViews']


@TRANSFORMS.register_module()
class PreprocessingViews(BaseTransform):
    """Concatenate V preprocessings of ``results['img']`` (HxWxC) into an HxWx(C*V) image.

    Args:
        views: one list of transform configs per view (``[]``: the loaded image unchanged).
            Every view must keep the image size (the cue-removal steps do).

    Also sets ``results['view_lung_boxes']``: per view, the ``lung_box`` its ``CropLungField``
    recorded (None where the view has no crop or found no lungs), so Grad-CAM can put each
    member's map back where that member looked.
    """

    def __init__(self, views: Sequence[Sequence[dict]]):
        if not views:
            raise ValueError('PreprocessingViews needs at least one view')
        self.views = [list(view) for view in views]
        self.pipelines = [Compose([TRANSFORMS.build(dict(step)) for step in view])
                          for view in self.views]

    def transform(self, results: dict) -> dict:
        img = results['img']
        grey = grey_of(img)
        channels, boxes = [], []
        for pipeline in self.pipelines:
            view = pipeline({**results, 'img': grey.copy()})
            out = grey_of(view['img'])
            if out.shape != grey.shape:
                raise ValueError(f'a view changed the image size from {grey.shape} to '
                                 f'{out.shape}; every view must keep it')
            out = with_channels_of(out, img)
            channels.append(out if out.ndim == 3 else out[:, :, None])
            boxes.append(view.get('lung_box'))
        results['img'] = np.concatenate(channels, axis=2)
        results['view_lung_boxes'] = boxes
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(views={self.views})'
