"""Ensembles of recipes whose test preprocessing differs: PreprocessingViews, member_views,
``make_seed_ensemble.py --recipe`` and Grad-CAM placed through each member's own crop."""
import cv2
import numpy as np
import pytest
import torch
from conftest import chest_in_border, load_script, synthetic_xray
from mmengine.config import Config
from pytorch_grad_cam.utils.image import scale_cam_image
from torch import nn

import mmtb  # noqa: F401  (registers the transforms and the ensemble)
from mmtb.apis import TBScreener
from mmtb.apis.cam import GradCAMExplainer, default_target_layers, member_crop_boxes
from mmtb.datasets.transforms import CropLungField, IntensityStandardize, PreprocessingViews
from mmtb.models.classifiers import SeedEnsembleClassifier

CROP_AND_CLAHE = [dict(type='CropLungField'), dict(type='IntensityStandardize')]


def test_views_concatenate_each_preprocessing_along_the_channels():
    grey, _ = chest_in_border(215)
    views = PreprocessingViews([[], [dict(type='IntensityStandardize')],
                                [dict(type='CropLungField')]])
    results = views(dict(img=np.repeat(grey[:, :, None], 3, axis=2)))
    stacked = results['img']
    assert stacked.shape == grey.shape + (9,) and stacked.dtype == np.uint8
    clahe = IntensityStandardize()(dict(img=grey))['img']
    cropped = CropLungField()(dict(img=grey))
    for view, expected in enumerate([grey, clahe, cropped['img']]):
        for channel in range(3):
            assert np.array_equal(stacked[:, :, 3 * view + channel], expected)
    assert results['view_lung_boxes'] == [None, None, cropped['lung_box']]
    assert cropped['lung_box'] is not None


def test_a_view_that_changes_the_size_is_refused():
    views = PreprocessingViews([[dict(type='Resize', scale=(32, 32))]])
    with pytest.raises(ValueError, match='keep'):
        views(dict(img=np.zeros((64, 64, 3), np.uint8)))


def test_member_views_must_name_one_view_per_member():
    member = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18),
                  neck=dict(type='GlobalAveragePooling'),
                  head=dict(type='LinearClsHead', num_classes=2, in_channels=512))
    with pytest.raises(ValueError, match='one view index'):
        SeedEnsembleClassifier(member, num_members=2, member_views=[0])


@pytest.fixture(scope='module')
def recipe_ensemble(tiny_checkpoint, tmp_path_factory):
    """The tiny model (test steps: none) + a 'recipe' that crops and applies CLAHE, whose
    checkpoint is the tiny one with its head shifted."""
    folder = tmp_path_factory.mktemp('recipes')
    other_cfg = Config.fromfile(str(tiny_checkpoint.config))
    pipeline = other_cfg.test_dataloader.dataset.pipeline
    other_cfg.test_dataloader.dataset.pipeline = [pipeline[0], *CROP_AND_CLAHE, pipeline[-1]]
    other_config = folder / 'other_recipe.py'
    other_cfg.dump(str(other_config))
    ckpt = torch.load(tiny_checkpoint.checkpoint, map_location='cpu')
    for key, value in ckpt['state_dict'].items():
        if key.startswith('head.') and value.is_floating_point():
            value.add_(0.5 * torch.randn_like(value, generator=torch.Generator().manual_seed(2)))
    other_ckpt = folder / 'other.pth'
    torch.save(ckpt, other_ckpt)
    tool = load_script('tools/model_converters/make_seed_ensemble.py', 'make_seed_ensemble')
    out = folder / 'ensemble'
    assert tool.main([str(tiny_checkpoint.config), str(tiny_checkpoint.checkpoint),
                      '--recipe', str(other_config), str(other_ckpt), '--out', str(out)]) == 0
    (config,) = out.glob('*_recipe-ensemble2.py')
    return dict(ensemble=TBScreener(config=config, checkpoint=out / 'seed_ensemble.pth'),
                members=[TBScreener(config=tiny_checkpoint.config,
                                    checkpoint=tiny_checkpoint.checkpoint),
                         TBScreener(config=other_config, checkpoint=other_ckpt)])


def test_recipe_ensemble_gives_each_member_its_own_preprocessing(recipe_ensemble):
    screener = recipe_ensemble['ensemble']
    cfg = screener.inferencer.config
    steps = cfg.test_dataloader.dataset.pipeline
    assert [s['type'] for s in steps] == ['LoadGreyXray', 'PreprocessingViews', 'PackInputs']
    assert steps[1]['views'][1] == CROP_AND_CLAHE and steps[1]['views'][0] == []
    assert cfg.model.member_views == [0, 1] and len(cfg.model.data_preprocessor.mean) == 6
    grey, _ = synthetic_xray(np.random.default_rng(5), 64, lesion=True)
    singles = [member.predict(grey).prob_tb for member in recipe_ensemble['members']]
    assert singles[0] != pytest.approx(singles[1], abs=1e-4)
    assert screener.predict(grey).prob_tb == pytest.approx(np.mean(singles), abs=1e-5)
    with_cam = screener.predict(grey, with_cam=True)
    assert with_cam.prob_tb == pytest.approx(np.mean(singles), abs=1e-5)
    assert with_cam.cam.shape == grey.shape and with_cam.cam.max() == pytest.approx(1, abs=1e-3)


def test_recipes_of_another_model_are_refused(tiny_checkpoint, tmp_path, capsys):
    cfg = Config.fromfile(str(tiny_checkpoint.config))
    cfg.model.head.num_classes = 3
    other = tmp_path / 'other_model.py'
    cfg.dump(str(other))
    tool = load_script('tools/model_converters/make_seed_ensemble.py', 'make_seed_ensemble')
    ckpt = str(tiny_checkpoint.checkpoint)
    assert tool.main([str(tiny_checkpoint.config), ckpt, '--recipe', str(other), ckpt,
                      '--out', str(tmp_path / 'out')]) == 2
    assert 'does not have the model of' in capsys.readouterr().err


def test_a_map_placed_per_layer_matches_the_single_crop_path(tiny_checkpoint):
    screener = TBScreener(config=tiny_checkpoint.config, checkpoint=tiny_checkpoint.checkpoint)
    explainer = GradCAMExplainer(screener.model, default_target_layers(screener.model),
                                 screener.tb_index)
    grey, _ = synthetic_xray(np.random.default_rng(6), 64, lesion=True)
    inputs = screener.model.data_preprocessor(screener._batch([grey]), False)['inputs']
    box = (8, 4, 56, 60)
    prob, single = explainer(inputs, (100, 90), crop_box=box)
    prob_layers, per_layer = explainer(inputs, (100, 90), layer_crop_boxes=[box])
    assert prob_layers == pytest.approx(prob)
    np.testing.assert_allclose(per_layer, single, atol=1e-4)
    with pytest.raises(ValueError, match='crop boxes'):
        explainer(inputs, (100, 90), layer_crop_boxes=[box, None])


class MemberLogProbability(nn.Module):
    """One member of an ensemble on its own: its view of the input -> log softmax.

    The ensemble's Grad-CAM target is log(mean_j p_j); its gradient at member i's layer is
    (p_i / sum_j p_j) * grad log p_i, a positive multiple of this module's, so after
    Grad-CAM's ReLU and min-max scaling member i's map is the same whichever target is used.
    """

    def __init__(self, ensemble, index):
        super().__init__()
        self.ensemble, self.index = ensemble, index

    def forward(self, inputs, mode='tensor'):
        member = self.ensemble.members[self.index]
        logits = member(self.ensemble.member_input(inputs, self.index), mode='tensor')
        return torch.log_softmax(logits.float(), dim=1)


def test_ensemble_map_is_the_mean_of_its_members_maps_each_inside_its_crop(recipe_ensemble):
    """The app's heat map (TBScreener.predict) and the explainer's map of the other class
    against each member's map computed on its own; the cropping member's map lies inside its
    lung box once mapped back to the (non-square) image."""
    screener = recipe_ensemble['ensemble']
    model = screener.model
    grey = cv2.resize(chest_in_border(215)[0], (150, 176))  # not square: W 150, H 176
    data = screener._batch([grey])
    inputs = model.data_preprocessor(data, False)['inputs']
    boxes = member_crop_boxes(model, data['data_samples'][0].metainfo)
    side = inputs.shape[-1]
    assert boxes[0] is None and boxes[1] is not None  # member 1's recipe crops the lungs
    x0, y0, x1, y1 = boxes[1]
    assert (x1 - x0) * (y1 - y0) < 0.7 * side * side  # the crop is well inside the input

    layers = default_target_layers(model)

    def member_maps(class_index):
        return [GradCAMExplainer(MemberLogProbability(model, i), [layers[i]], class_index)(
            inputs, grey.shape, crop_box=boxes[i])[1] for i in range(2)]

    # the app's heat map, P(TB), and the same explainer on the other class
    normal = 1 - screener.tb_index
    maps = {screener.tb_index: member_maps(screener.tb_index), normal: member_maps(normal)}
    ensemble_maps = {screener.tb_index: screener.predict(grey, with_cam=True).cam,
                     normal: GradCAMExplainer(model, layers, normal)(
                         inputs, grey.shape, layer_crop_boxes=boxes)[1]}
    for class_index, members in maps.items():
        np.testing.assert_allclose(ensemble_maps[class_index],
                                   scale_cam_image(np.mean(members, axis=0)[None])[0],
                                   atol=1e-3)
    # a mean of two real maps (this tiny model leaves member 0's TB map empty after the ReLU)
    both = [m for m in maps.values() if all(member.max() > 0.5 for member in m)]
    assert both and np.abs(both[0][0] - both[0][1]).max() > 0.1

    # the box in the image's frame: x scales by W / side, y by H / side
    sx, sy = grey.shape[1] / side, grey.shape[0] / side
    inside = np.zeros(grey.shape, bool)
    inside[int(y0 * sy):int(np.ceil(y1 * sy)), int(x0 * sx):int(np.ceil(x1 * sx))] = True
    grown = cv2.dilate(inside.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    cropped = [m[1] for m in maps.values() if m[1].max() > 0.5]
    assert cropped
    for member_map in cropped:
        assert member_map[~grown].max() == 0  # nothing beyond interpolation's reach of the box
        assert member_map[~inside].sum() < 0.05 * member_map.sum()
    uncropped = both[0][0]
    assert uncropped[~grown].sum() > 0.05 * uncropped.sum()  # the uncropped member looks wider
