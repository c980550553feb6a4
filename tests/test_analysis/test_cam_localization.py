"""Heat maps checked against lesion boxes: mmtb.analysis.cam_localization and its tool;
radiologists' boxes (mmtb.data_prep.boxes) and lesion-aware augmentation (PasteLesionPatches)."""
import csv
import json

import cv2
import numpy as np
import pytest
import torch
from conftest import CAM_SIZE, LESION_MODEL_CONFIG, REPO, load_script, synthetic_xray

from mmtb.analysis import (
    box_area_fraction,
    energy_in_boxes,
    localization_report,
    mass_outside_lung,
    peak_in_boxes,
)
from mmtb.data_prep.boxes import (
    kinds_of,
    lesion_split,
    read_lesion_boxes,
    tb_kinds_by_image,
)
from mmtb.data_prep.sources import DataSourceError
from mmtb.datasets.transforms import PasteLesionPatches


# ------------------------------------------------------------------ the measures
def test_pointing_game_energy_and_chance_level():
    cam = np.zeros((10, 20), np.float32)
    cam[2, 3] = 1.0
    cam[8, 15] = 0.5
    box = (2, 1, 5, 4)  # x0, y0, x1, y1 with x1/y1 exclusive
    assert peak_in_boxes(cam, [box]) and not peak_in_boxes(cam, [(10, 5, 20, 10)])
    assert energy_in_boxes(cam, [box]) == pytest.approx(1 / 1.5)
    assert energy_in_boxes(np.zeros((4, 4)), [box]) == 0.0
    assert box_area_fraction(cam.shape, [box]) == pytest.approx(9 / 200)
    # overlapping boxes count their union once; boxes beyond the image are clipped
    assert box_area_fraction((10, 10), [(0, 0, 5, 10), (0, 0, 5, 10), (5, 0, 99, 99)]) == 1.0


def test_mass_outside_lung_on_a_generated_chest():
    grey, _ = synthetic_xray(np.random.default_rng(0), 128)
    neck = np.zeros(grey.shape, np.float32)
    neck[:10, 54:74] = 1.0  # above the lungs, where a burnt-in label or the neck would be
    lungs = np.zeros(grey.shape, np.float32)
    lungs[50:80, 35:50] = 1.0
    assert mass_outside_lung(neck, grey) > 0.9
    assert mass_outside_lung(lungs, grey) < 0.1
    assert mass_outside_lung(np.zeros(grey.shape, np.float32), grey) is None
    with pytest.raises(ValueError, match='differ in size'):
        mass_outside_lung(lungs[:10], grey)


# ------------------------------------------------------------------ radiologists' boxes
def write_boxes(path, rows, header=('file', 'kind', 'x0', 'y0', 'x1', 'y1')):
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_boxes_are_read_with_short_kinds(tmp_path):
    path = write_boxes(tmp_path / 'boxes.csv', [
        ('a.png', 'ActiveTuberculosis', 1, 2, 30, 40),
        ('a.png', 'ObsoletePulmonaryTuberculosis', 50, 2, 60, 9.5),
        ('b.png', 'active', 0, 0, 5, 5)])
    boxes = read_lesion_boxes(path)
    assert boxes['a.png'][0] == ('active', (1.0, 2.0, 30.0, 40.0))
    assert kinds_of(boxes['a.png']) == ['active', 'obsolete']
    assert {lesion_split(f'tb{i:04d}.png') for i in range(20)} == {'patch', 'eval'}
    assert lesion_split('dir/x.png') == lesion_split('x.png')  # by name, not by folder


@pytest.mark.parametrize('rows,header,message', [
    ([('a.png', 'active', 1, 2, 3, 4)], ('file', 'label', 'x0', 'y0', 'x1', 'y1'),
     'expected the columns'),
    ([('a.png', 'Pneumonia', 1, 2, 3, 4)], None, 'unknown TB kind'),
    ([('a.png', 'active', 1, 2, 'x', 4)], None, 'must be numbers'),
    ([('a.png', 'active', 5, 2, 3, 4)], None, '0 <= x0 < x1'),
    ([('a.png', 'active', 1, 2, 3)], None, 'expected 6 fields'),
    ([], None, 'holds no boxes'),
])
def test_malformed_boxes_are_refused_in_one_line(tmp_path, rows, header, message):
    path = write_boxes(tmp_path / 'boxes.csv', rows,
                       header or ('file', 'kind', 'x0', 'y0', 'x1', 'y1'))
    with pytest.raises(DataSourceError, match=message) as error:
        read_lesion_boxes(path)
    assert '\n' not in str(error.value)
    with pytest.raises(DataSourceError, match='not found'):
        read_lesion_boxes(tmp_path / 'missing.csv')


def test_tb_kinds_by_image_only_for_tb_kind_findings(tmp_path):
    ann = tmp_path / 'test.json'
    ann.write_text(json.dumps({'data_list': [
        {'img_path': 'TB/a.png', 'gt_label': 1, 'finding': 'active+obsolete'},
        {'img_path': 'TB/b.png', 'gt_label': 1, 'finding': 'obsolete'}]}))
    kinds = tb_kinds_by_image(ann, tmp_path)
    assert kinds[str((tmp_path / 'TB/a.png').resolve())] == ['active', 'obsolete']
    ann.write_text(json.dumps({'data_list': [
        {'img_path': 'a.png', 'gt_label': 1, 'finding': 'cavity in the right upper lobe'}]}))
    assert tb_kinds_by_image(ann, tmp_path) is None  # free-text readings are no subgroups


# ------------------------------------------------------------------ lesion paste
def test_paste_lesion_patches_lesions_make_tb_controls_keep_the_label(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):  # boxed films with one bright lesion each, in either half
        img, (cx, cy, r) = synthetic_xray(rng, 96, lesion=True)
        cv2.imwrite(str(tmp_path / f'tb{i:03d}.png'), img)
        rows.append((f'tb{i:03d}.png', 'active', cx - r, cy - r, cx + r, cy + r))
    boxes = write_boxes(tmp_path / 'boxes.csv', rows)
    normal, _ = synthetic_xray(rng, 128)
    always_lesion = PasteLesionPatches(str(boxes), str(tmp_path), lesion_prob=1.0)
    always_control = PasteLesionPatches(str(boxes), str(tmp_path), lesion_prob=0.0,
                                        control_prob=1.0)
    never = PasteLesionPatches(str(boxes), str(tmp_path), lesion_prob=0.0, control_prob=0.0)
    np.random.seed(0)
    pasted = always_lesion.transform({'img': normal.copy(), 'gt_label': 0})
    assert pasted['gt_label'] == 1 and pasted['lesion_pasted']
    assert pasted['img'].shape == normal.shape and pasted['img'].max() > normal.max() - 5
    control = always_control.transform({'img': normal.copy(), 'gt_label': 0})
    assert control['gt_label'] == 0 and not control['lesion_pasted']
    assert not np.array_equal(control['img'], normal)  # a control patch was pasted
    untouched = never.transform({'img': normal.copy(), 'gt_label': 0})
    assert np.array_equal(untouched['img'], normal) and 'lesion_pasted' not in untouched
    with pytest.raises(ValueError, match='no usable lesion boxes'):
        PasteLesionPatches(str(boxes), str(tmp_path / 'elsewhere'))


# ------------------------------------------------------------------ tools/analysis_tools
@pytest.fixture(scope='module')
def boxed_folder(tmp_path_factory, lesion_screener):
    """20 generated TB films, each with a box around its lesion (1.5 radii, as a reader draws it
    with a margin), half 'active', half 'obsolete'."""
    folder = tmp_path_factory.mktemp('boxed')
    rng = lesion_screener.rng()
    rows = []
    for i in range(20):
        img, (cx, cy, r) = synthetic_xray(rng, CAM_SIZE, lesion=True)
        cv2.imwrite(str(folder / f'tb{i:03d}.png'), img)
        rows.append((f'tb{i:03d}.png', ('active', 'obsolete')[i % 2],
                     cx - 3 * r // 2, cy - 3 * r // 2, cx + 3 * r // 2 + 1, cy + 3 * r // 2 + 1))
    write_boxes(folder / 'boxes.csv', rows)
    return folder


def run_tool(args):
    return load_script('tools/analysis_tools/cam_localization.py', 'cam_localization').main(
        [str(a) for a in args])


def test_cam_localization_tool_finds_the_lesions_of_a_trained_model(
        boxed_folder, lesion_screener, tmp_path, capsys):
    out = tmp_path / 'cam_localization.json'
    model = lesion_screener.work_dir
    assert run_tool([boxed_folder, '--boxes', boxed_folder / 'boxes.csv', '--out', out,
                     '--config', model / 'lesion.py', '--checkpoint', model / 'epoch_3.pth']) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith('cam localization on 20 images: pointing_game')
    report = json.loads(out.read_text())
    overall = report['overall']
    assert overall['pointing_game'] >= 0.8, overall
    assert overall['energy_in_boxes'] >= 2 * overall['box_area_fraction'], overall
    assert set(report['per_kind']) == {'active', 'obsolete'}
    assert report['per_kind']['active']['num_images'] == 10
    assert overall['outside_lung'] is not None and 'images' not in report


def test_cam_localization_of_a_random_model_is_near_chance(boxed_folder, tmp_path):
    """A network that has learnt nothing points at the lesion about as often as the boxes
    cover the image: the tool's numbers are not a property of the images alone."""
    from mmtb.apis import TBScreener
    from mmtb.utils import load_config

    torch.manual_seed(3)
    random = TBScreener(config=load_config(str(REPO / LESION_MODEL_CONFIG), img_size=CAM_SIZE),
                        random_weights=True)
    images = {path: read_lesion_boxes(boxed_folder / 'boxes.csv')[path.name]
              for path in sorted(boxed_folder.glob('*.png'))}
    overall = localization_report(random, images)['overall']
    assert overall['box_area_fraction'] < 0.1
    assert overall['pointing_game'] <= 0.3, overall
    assert overall['energy_in_boxes'] < 2 * overall['box_area_fraction'], overall


def test_cam_localization_tool_errors_are_one_line(boxed_folder, tmp_path, capsys):
    out = tmp_path / 'x.json'
    assert run_tool([tmp_path / 'missing', '--boxes', boxed_folder / 'boxes.csv',
                     '--out', out]) == 2
    assert 'no such file or folder' in capsys.readouterr().err
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert run_tool([empty, '--boxes', boxed_folder / 'boxes.csv', '--out', out]) == 2
    assert 'has a box' in capsys.readouterr().err
    assert not out.exists()
