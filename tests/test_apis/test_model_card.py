"""The default model's card is rendered from evaluation files only and says what matters."""

import pytest
from conftest import REPO, load_script

from mmtb.evaluation.calibration import simulate_local_calibration
from mmtb.utils.config import load_config

TOOL = REPO / 'tools' / 'model_converters' / 'publish_default_model.py'
CONFIG = (REPO / 'configs' / 'robust' /
          'efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-512px.py')


POINT = dict(threshold=0.93, target_sensitivity=0.9, sensitivity_confidence=None)


def publisher():
    return load_script(TOOL, 'publish_default_model')


def metrics(auc, op=None):
    m = {f'screening/{k}': v for k, v in dict(
        accuracy=90.0, precision=80.0, recall=85.0, sensitivity=85.0, specificity=92.0,
        f1=82.0, num_samples=400, num_tb=300, auc=auc, auc_ci_low=auc - 0.03,
        auc_ci_high=auc + 0.02, spec_at_sens90=75.0, thr_sens90=0.4).items()}
    if op:
        m.update({'screening/op/sensitivity': op[0], 'screening/op/specificity': op[1],
                  'screening/op/who_target_met': op[0] >= 90 and op[1] >= 70})
    return m


def test_card_lists_preprocessing_warns_and_shows_local_calibration():
    tool = publisher()
    cfg = load_config(str(CONFIG), img_size=224)
    labels = [1] * 60 + [0] * 60
    scores = [0.3 + 0.5 * y + (i % 10) / 50 for i, y in enumerate(labels)]
    local = simulate_local_calibration(scores, labels, 10, 10, repeats=20)
    card = tool.render_card(
        'robust-model', cfg, dict(source='work_dirs/x/epoch_5.pth', epoch=5),
        metrics(0.99), {'pakistan256': metrics(0.91, op=(60.0, 95.0))}, POINT, 'ab' * 32,
        {'pakistan256': dict(settings=[local], table='| calibration table |')})
    assert '`MaskBurntInBlocks` → `CropLungField` → `IntensityStandardize`' in card
    assert '`PasteSyntheticBlocks`' in card.split('Training augmentation:')[1].split('\n')[0]
    assert '**Warning:**' in card and '**not met**' in card
    assert 'Simulated local calibration on pakistan256' in card
    assert '| calibration table |' in card
    assert 'masks the burnt-in blocks' in card and 'lung-field crop is a heuristic' in card


@pytest.mark.slow
def test_card_of_a_seed_ensemble_names_its_members(tmp_path):
    tool = publisher()
    ensemble_tool = load_script('tools/model_converters/make_seed_ensemble.py', 'make_ensemble')
    cfg = ensemble_tool.ensemble_config(CONFIG, 3)
    cfg.dump(str(tmp_path / 'ensemble.py'))
    cfg = load_config(str(tmp_path / 'ensemble.py'), img_size=224)
    assert cfg.model.type == 'SeedEnsembleClassifier' and cfg.model.num_members == 3
    members = [dict(source=f'work_dirs/run_seed{i}/epoch_5.pth', epoch=5) for i in range(3)]
    card = tool.render_card(
        'ensemble', cfg, dict(source='work_dirs/e/seed_ensemble.pth', epoch=None,
                              members=members, fp16=True),
        metrics(0.99), {'pakistan256': metrics(0.93, op=(91.0, 75.0))}, POINT, 'cd' * 32)
    assert '**A seed ensemble:** 3 trainings' in card
    assert 'float16' in card and '`work_dirs/run_seed2/epoch_5.pth`' in card
    assert '`TIMMBackbone` backbone (tf_efficientnet_lite0)' in card
    assert '**Warning:**' not in card  # the WHO target is met in this made-up external row


@pytest.mark.slow
def test_published_config_runs_at_the_size_it_was_evaluated_at(tmp_path):
    """The app loads config.py: it must resize to the --img-size the card's numbers and
    threshold come from, even when a 512-px source config is published at 224."""
    from mmtb.utils import input_size_of
    cfg = publisher().write_config(CONFIG, tmp_path, img_size=224)
    assert input_size_of(cfg) == 224
    assert input_size_of(load_config(str(tmp_path / 'config.py'))) == 224


@pytest.mark.slow
def test_operating_point_rules_and_how_the_card_states_them(tmp_path):
    """The internal threshold comes from the published model's internal scores: the 90 % point,
    or with a confidence the threshold where 90 % is the sensitivity's lower bound."""
    tool = publisher()
    tool.write_config(CONFIG, tmp_path, img_size=224)
    rows = [f'tb{i}.png,1,{i / 100}' for i in range(1, 101)] + \
        [f'n{i}.png,0,{i / 1000}' for i in range(100)]
    (tmp_path / 'scores_internal.csv').write_text('file,label,prob_tb\n' + '\n'.join(rows))
    plain = tool.operating_point(tmp_path)
    bound = tool.operating_point(tmp_path, confidence=0.95)
    assert plain['threshold'] == 0.11 and bound['threshold'] == 0.05
    assert (bound['sensitivity'], bound['n_tb'], bound['n_normal']) == (0.96, 100, 100)
    assert 'lower 95% confidence bound' in bound['chosen_on']
    cfg = load_config(str(tmp_path / 'config.py'))
    card = tool.render_card('m', cfg, dict(source='x.pth', epoch=5), metrics(0.99),
                            {'pakistan256': metrics(0.93, op=(91.0, 75.0))}, bound, 'ef' * 32)
    assert '**0.0500** on P(TB): the highest threshold at which 90 % is the lower one-sided ' \
        '95 % confidence bound' in card
    assert '| 96.0 / 50.0 (chosen here) |' in card  # the normals from 0.05 up are flagged


def test_card_shows_tb_only_sets_heat_maps_and_roc_plots(tmp_path):
    """A TB-only set (TBX11K) gets sensitivity per kind and a warning, never an AUC; the heat
    map row comes from cam_localization.json; each two-class set's ROC plot is linked."""
    tool = publisher()
    cfg = load_config(str(CONFIG), img_size=224)
    tb_only = {'screening/num_samples': 400, 'screening/num_tb': 400,
               'screening/op/sensitivity': 44.0, 'screening/op/sensitivity_ci_low': 39.1,
               'screening/op/sensitivity_ci_high': 49.0,
               'screening/group/active/num_samples': 316,
               'screening/group/active/op/sensitivity': 45.3,
               'screening/group/active/op/sensitivity_ci_low': 39.7,
               'screening/group/active/op/sensitivity_ci_high': 50.9}
    summary = dict(num_images=399, pointing_game=0.216, energy_in_boxes=0.136,
                   box_area_fraction=0.095, outside_lung=None)
    cam = dict(boxes='tbx11k256/boxes.csv', overall=summary, per_kind={'active': summary})
    card = tool.render_card(
        'm', cfg, dict(source='x.pth', epoch=5), metrics(0.99),
        {'pakistan256': metrics(0.97, op=(91.0, 92.0)), 'tbx11k256': tb_only}, POINT, 'ab' * 32,
        roc_plots={'pakistan256': 'roc_pakistan256.png'}, cam=cam)
    assert '| tbx11k256 | 400 | 44.0 (39.1–49.0) | active 45.3 (39.7–50.9, n 316) |' in card
    assert 'finds only 44.0 %' in card and '| External: tbx11k256' not in card
    assert '| all | 399 | 0.216 | 0.136 | 0.095 | – |' in card
    assert '![ROC, pakistan256](roc_pakistan256.png)' in card

    labels = [1] * 30 + [0] * 30
    scores = [0.2 + 0.6 * y + (i % 7) / 20 for i, y in enumerate(labels)]
    from mmtb.evaluation.roc_plot import plot_roc
    point = plot_roc(scores, labels, 0.5, 'test', tmp_path / 'roc.png')
    assert (tmp_path / 'roc.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 0 <= point['specificity'] <= 1 and point['sensitivity'] == 1.0


def test_the_shipped_card_renders_byte_identical_from_its_files():
    """checkpoints/default/model_card.md is the template (mmtb/apis/templates/model_card.md)
    rendered from the committed JSONs, config and weights beside it; only what the publisher
    was told on its command line (name, notes, date) is read back from the card."""
    import re

    import torch

    from mmtb.apis.model_card import card_inputs, render_card
    from mmtb.utils.compact_weights import SCALE_SUFFIX
    folder = REPO / 'checkpoints' / 'default'
    card = (folder / 'model_card.md').read_text()
    inputs = card_inputs(folder)
    published = torch.load(folder / 'model.pth', map_location='cpu', mmap=True)
    state = published['state_dict']
    source = dict(members=published['meta'].get('seed_ensemble', []),
                  fp16=any(v.dtype == torch.float16 for v in state.values()),
                  int8=any(k.endswith(SCALE_SUFFIX) for k in state))
    lines = card.splitlines()
    last_fixed = lines.index('- Grad-CAM maps show where the score came from, not where the '
                             'disease is.')
    roc_plots = {n: f'roc_{n}.png' for n in ['internal', *inputs['externals']]
                 if (folder / f'roc_{n}.png').is_file()}
    rendered = render_card(
        lines[0].removeprefix('# Model card: '), inputs['cfg'], source, inputs['internal'],
        inputs['externals'], inputs['point'], inputs['sha256'], inputs['local_calibration'],
        [line[2:] for line in lines[last_fixed + 1:-1]], roc_plots, inputs['cam'],
        published=re.fullmatch(r'- Published (\S+) by .*', lines[-1]).group(1))
    assert rendered == card
