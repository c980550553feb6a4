"""Grad-CAM for mmtb classifiers (pytorch-grad-cam), fast enough to run on every prediction.

Target layer: the FPN neck's finest fused level (``neck.fpn.layer_blocks[0]``, stride 8).
Why: the neck pools every pyramid level straight into the linear head, so the finest level is
where small lesions reach the classifier, and at stride 8 its map is 4x finer than the
backbone's last stage (stride 32: 7x7 at 224 px, 2x2 at 64 px), too coarse to point at a
lesion. ``tests/test_apis/test_inference.py`` checks on images with one lesion that the CAM
peak falls on the lesion, and that the finest level beats the backbone's last stage at it.

Speed: the model's weights are frozen (``requires_grad_(False)``) and a forward hook turns
the target layer's output into a fresh leaf that requires grad. So autograd records nothing
before the target layer (the backbone runs as under ``torch.no_grad``) and the backward pass
only covers target layer -> pooling -> linear head. The same single forward gives the
logits, hence the probability, and the CAM.

Seed ensembles (``SeedEnsembleClassifier``): one target layer per member; pytorch-grad-cam
averages the members' normalised maps, each taken against the ensemble's own output (the log of
the members' mean probability), so the heat map explains the probability the user sees. When
the members read different preprocessings (``PreprocessingViews``: some crop to the lung field,
some do not), each member's map is first put back onto the original image through its own
view's crop, then the maps are averaged.
"""
from __future__ import annotations

import threading

import cv2
import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn


def member_crop_boxes(model: nn.Module, metainfo: dict):
    """Per member (target layer), the lung box of the view it read; None unless the model's
    members read ``PreprocessingViews`` views."""
    views = getattr(model, 'member_views', None)
    boxes = metainfo.get('view_lung_boxes')
    if views is None or boxes is None:
        return None
    return [boxes[view] for view in views]


def default_target_layers(model: nn.Module) -> list[nn.Module]:
    """Grad-CAM's layers: :func:`default_target_layer` of each member of a seed ensemble, else
    of the model itself."""
    members = getattr(model, 'members', None)
    if members is not None:
        return [default_target_layer(member) for member in members]
    return [default_target_layer(model)]


def default_target_layer(model: nn.Module) -> nn.Module:
    """The FPN's finest fused level when the model has an FPN neck, else the backbone's last
    stage (see the module docstring for why)."""
    fpn = getattr(getattr(model, 'neck', None), 'fpn', None)
    if fpn is not None and hasattr(fpn, 'layer_blocks'):
        return fpn.layer_blocks[0]
    return backbone_last_stage(model)


def backbone_last_stage(model: nn.Module) -> nn.Module:
    """The backbone's last stage (EfficientNet ``layers[-1]``, ResNet ``layer4`` ...)."""
    backbone = model.backbone
    if hasattr(backbone, 'res_layers'):  # mmpretrain ResNet family
        return getattr(backbone, backbone.res_layers[-1])
    if hasattr(backbone, 'layers'):  # EfficientNet, MobileNet, ...
        return backbone.layers[-1]
    convs = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError('no convolution in the backbone to compute Grad-CAM on')
    return convs[-1]


class _LogitsFromTarget(nn.Module):
    """Preprocessed batch -> logits, with autograd starting at the target layers' outputs.

    pytorch-grad-cam needs a module mapping its input tensor to class scores; the classifier's
    own ``mode='tensor'`` forward (backbone -> neck -> head) is exactly that.
    """

    def __init__(self, classifier: nn.Module, target_layers: list[nn.Module]):
        super().__init__()
        self.classifier = classifier
        self._active = False
        # Registered before GradCAM registers its hooks, so GradCAM sees the new leaves.
        self._handles = [layer.register_forward_hook(self._start_graph)
                         for layer in target_layers]

    def _start_graph(self, module, args, output):
        if self._active:
            return output.detach().requires_grad_()
        return None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self._active = True
        try:
            with torch.enable_grad():
                return self.classifier(inputs, mode='tensor')
        finally:
            self._active = False


class _GradCAMKeepingLayers(GradCAM):
    """pytorch-grad-cam's GradCAM, also keeping each target layer's map (it returns only their
    mean), so maps over differently cropped inputs can be mapped back one by one."""

    per_layer: list = []

    def aggregate_multi_layers(self, cam_per_target_layer):
        self.per_layer = [layer_map[:, 0] for layer_map in cam_per_target_layer]
        return super().aggregate_multi_layers(cam_per_target_layer)


class GradCAMExplainer:
    """Grad-CAM of class ``class_index`` on ``target_layer`` (one module, or a list whose maps
    are averaged, e.g. one per ensemble member); returns (probability, CAM).

    The classifier's parameters must not require grad (TBScreener freezes them) so that the
    backward pass stays short; it still works, only slower, if they do.
    """

    def __init__(self, classifier: nn.Module, target_layer, class_index: int):
        self.target_layers = (list(target_layer) if isinstance(target_layer, (list, tuple))
                              else [target_layer])
        self.net = _LogitsFromTarget(classifier, self.target_layers)
        self.class_index = int(class_index)
        # the hooks live on the shared model: one CAM at a time (the app serves many sessions)
        self._lock = threading.Lock()

    def __call__(self, inputs: torch.Tensor, out_hw: tuple[int, int], crop_box=None,
                 layer_crop_boxes=None) -> tuple[float, np.ndarray]:
        """``inputs``: one preprocessed image (1xCxHxW, the data_preprocessor's output).

        Returns P(class) from the softmax of the same forward pass, and the CAM resized to
        ``out_hw`` (the original image's height, width) as float32 in [0, 1]. ``crop_box``:
        the region (x0, y0, x1, y1, in input pixels) the pipeline cropped and resized to the
        input (``CropLungField``'s ``lung_box``), so that the map lands where the model looked.
        ``layer_crop_boxes``: instead, one such box (or None) per target layer
        (:func:`member_crop_boxes`); each layer's map is placed with its own box, then averaged.
        """
        if inputs.ndim != 4 or inputs.shape[0] != 1:
            raise ValueError(f'Grad-CAM takes one image (1xCxHxW), got {tuple(inputs.shape)}')
        if layer_crop_boxes is not None and len(layer_crop_boxes) != len(self.target_layers):
            raise ValueError(f'{len(layer_crop_boxes)} crop boxes for '
                             f'{len(self.target_layers)} target layers')
        with self._lock, _GradCAMKeepingLayers(model=self.net,
                                               target_layers=self.target_layers) as cam:
            maps = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(self.class_index)])
            logits = cam.outputs.detach()
            per_layer = cam.per_layer
        prob = float(torch.softmax(logits.float(), dim=1)[0, self.class_index])
        if layer_crop_boxes is None:
            return prob, cam_on_original(maps[0], out_hw, crop_box)
        placed = np.mean([cam_on_original(layer_map[0], out_hw, box)
                          for layer_map, box in zip(per_layer, layer_crop_boxes)], axis=0)
        return prob, scale_cam_image(placed[None])[0].astype(np.float32)


def cam_on_original(cam: np.ndarray, out_hw: tuple[int, int], crop_box=None) -> np.ndarray:
    """A CAM over the model input, mapped onto the original image.

    The input is the original squashed to a square (``LoadGreyXray``), so a plain resize maps
    it back; when the pipeline cropped ``crop_box`` of that square and resized it to the
    input, the map is first put back into the box (zero outside: the model never saw it).
    """
    if crop_box is not None:
        side_h, side_w = cam.shape
        x0, y0, x1, y1 = (int(round(v)) for v in crop_box)
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, side_w), min(y1, side_h)
        if x1 > x0 and y1 > y0:
            placed = np.zeros_like(cam)
            placed[y0:y1, x0:x1] = cv2.resize(cam, (x1 - x0, y1 - y0),
                                              interpolation=cv2.INTER_LINEAR)
            cam = placed
    h, w = out_hw
    heat = cv2.resize(cam, (int(w), int(h)), interpolation=cv2.INTER_LINEAR)
    return np.clip(heat, 0, 1).astype(np.float32)
