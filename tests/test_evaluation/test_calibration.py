"""Local threshold calibration: mmtb.evaluation.calibration and tools/calibrate_threshold.py."""
import csv
import json
from datetime import datetime

import cv2
import numpy as np
import pytest
from conftest import REPO, load_script, run_tool, synthetic_xray

from mmtb.apis import read_operating_point
from mmtb.evaluation.calibration import (
    CalibrationInputError,
    calibrate,
    parse_label,
    read_scores_csv,
)

TOOL = REPO / 'tools' / 'calibrate_threshold.py'
KEYS = {'threshold', 'target_sensitivity', 'threshold_ci', 'sensitivity', 'specificity',
        'n_tb', 'n_normal', 'chosen_on', 'created', 'warning'}
TB_SCORES = [round(0.1 * i, 1) for i in range(1, 11)]  # 0.1 .. 1.0
NORMAL_SCORES = [0.0, 0.02, 0.05, 0.08, 0.12, 0.15, 0.18, 0.25, 0.3, 0.5]


@pytest.fixture(scope='module')
def tool():
    """tools/calibrate_threshold.py loaded in-process (its main returns the exit status)."""
    return load_script(TOOL, 'calibrate_threshold')


def write_csv(path, header, rows):
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def scores_csv(path, tb=TB_SCORES, normal=NORMAL_SCORES):
    rows = [(s, 1) for s in tb] + [(s, 0) for s in normal]
    return write_csv(path, ['prob_tb', 'label'], rows)


def test_known_scores_give_the_threshold_for_90_percent_sensitivity(tool, tmp_path, capsys):
    out = tmp_path / 'op' / 'operating_point.json'
    status = tool.main(['--scores', str(scores_csv(tmp_path / 's.csv')), '--out', str(out),
                        '--n-boot', '300'])
    assert status == 0
    point = json.loads(out.read_text())
    assert set(point) >= KEYS
    # 9 of the 10 TB scores (0.2 .. 1.0) are >= 0.2; any higher threshold loses one more
    assert point['threshold'] == pytest.approx(0.2)
    assert point['sensitivity'] == pytest.approx(0.9)
    assert point['specificity'] == pytest.approx(0.7)  # 7 normals below 0.2
    assert point['target_sensitivity'] == 0.9
    low, high = point['threshold_ci']
    assert low <= point['threshold'] <= high and low < high
    assert (point['n_tb'], point['n_normal']) == (10, 10)
    assert 's.csv' in point['chosen_on']
    datetime.fromisoformat(point['created'])
    assert 'only 10 TB cases' in point['warning']  # a small set is flagged
    assert read_operating_point(out)['threshold'] == pytest.approx(0.2)  # the app reads it
    printed = capsys.readouterr().out
    assert 'threshold 0.2' in printed and 'warning:' in printed


def test_other_target_sensitivity():
    point = calibrate(TB_SCORES + NORMAL_SCORES, [1] * 10 + [0] * 10, target_sensitivity=0.5,
                      n_boot=50)
    assert point['threshold'] == pytest.approx(0.6)  # 0.6 .. 1.0: 5 of 10
    assert point['sensitivity'] == pytest.approx(0.5)
    assert point['specificity'] == 1.0


def test_enough_cases_carry_no_warning():
    rng = np.random.default_rng(0)
    tb, normal = rng.uniform(0.4, 1.0, 80), rng.uniform(0.0, 0.5, 120)
    point = calibrate(np.r_[tb, normal], np.r_[np.ones(80), np.zeros(120)], n_boot=200)
    assert point['warning'] is None
    assert point['sensitivity'] >= 0.9 and point['specificity'] >= 0.7
    low, high = point['threshold_ci']
    assert low <= point['threshold'] <= high


def test_ci_is_reproducible_and_narrows_with_more_cases():
    rng = np.random.default_rng(1)

    def width(n):
        scores = np.r_[rng.uniform(0.3, 1.0, n), rng.uniform(0.0, 0.6, n)]
        point = calibrate(scores, np.r_[np.ones(n), np.zeros(n)], n_boot=200, seed=3)
        again = calibrate(scores, np.r_[np.ones(n), np.zeros(n)], n_boot=200, seed=3)
        assert point['threshold_ci'] == again['threshold_ci']
        return point['threshold_ci'][1] - point['threshold_ci'][0]

    assert width(400) < width(20)


def test_screening_csv_with_a_labels_file(tool, tmp_path):
    """The batch screening tool's CSV (file,prob_tb,...) plus a file,label mapping."""
    files = [f'/scans/tb_{i}.png' for i in range(10)] + [f'/scans/n_{i}.png' for i in range(10)]
    scores = TB_SCORES + NORMAL_SCORES
    screen = write_csv(tmp_path / 'screen.csv', ['file', 'prob_tb', 'decision'],
                       [(f, s, 'x') for f, s in zip(files, scores)]
                       + [('/scans/unreadable.png', '', 'error')])
    # labels by file name only, and as class names
    labels = write_csv(tmp_path / 'labels.csv', ['file', 'label'],
                       [(f.split('/')[-1], 'tuberculosis' if 'tb_' in f else 'normal')
                        for f in files])
    out = tmp_path / 'op.json'
    assert tool.main(['--scores', str(screen), '--labels', str(labels), '--out', str(out),
                      '--n-boot', '100']) == 0
    point = json.loads(out.read_text())
    assert point['threshold'] == pytest.approx(0.2)
    assert (point['n_tb'], point['n_normal']) == (10, 10)
    assert 'labels.csv' in point['chosen_on']


def test_labels_parse_numbers_and_class_names():
    assert [parse_label(v) for v in ('1', '0', 'TB', 'Normal', 'tuberculosis', '1.0')] == \
        [1, 0, 1, 0, 1, 1]
    with pytest.raises(CalibrationInputError):
        parse_label('maybe')


@pytest.mark.parametrize('case', ['missing-column', 'one-class', 'bad-score', 'no-label-for',
                                  'missing-file'])
def test_bad_input_exits_2_with_one_line(tool, tmp_path, capsys, case):
    if case == 'missing-column':
        args = ['--scores', str(write_csv(tmp_path / 'x.csv', ['score', 'label'], [(0.3, 1)]))]
    elif case == 'one-class':
        args = ['--scores', str(scores_csv(tmp_path / 'x.csv', normal=[]))]
    elif case == 'bad-score':
        args = ['--scores', str(write_csv(tmp_path / 'x.csv', ['prob_tb', 'label'],
                                          [(0.3, 1), (1.7, 0)]))]
    elif case == 'no-label-for':
        screen = write_csv(tmp_path / 'x.csv', ['file', 'prob_tb'], [('a.png', 0.3)])
        labels = write_csv(tmp_path / 'l.csv', ['file', 'label'], [('b.png', 1)])
        args = ['--scores', str(screen), '--labels', str(labels)]
    else:
        args = ['--scores', str(tmp_path / 'absent.csv')]
    out = tmp_path / 'op.json'
    assert tool.main([*args, '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1
    assert not out.exists()


@pytest.mark.slow
def test_cli_subprocess_reports_a_missing_column(tmp_path):
    bad = write_csv(tmp_path / 'x.csv', ['prob_tb'], [(0.3,), (0.6,)])
    result = run_tool(TOOL, '--scores', bad, '--out', tmp_path / 'op.json', timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f'error: {bad}: missing column(s) label (found: prob_tb)']


def test_read_scores_csv_skips_unscored_rows(tmp_path):
    path = write_csv(tmp_path / 's.csv', ['prob_tb', 'label'], [(0.4, 1), ('', 0), (0.1, 0)])
    scores, labels = read_scores_csv(path)
    assert scores.tolist() == [0.4, 0.1] and labels.tolist() == [1, 0]


# ----------------------------------------------------------------------------- model path
@pytest.fixture(scope='module')
def random_weights_model(tmp_path_factory):
    """A 64 px EfficientNet-b0-FPN config and a checkpoint of its untrained weights (the
    calibration logic is what is tested, not the model)."""
    import torch
    from mmpretrain.registry import MODELS

    from mmtb.utils import load_config
    root = tmp_path_factory.mktemp('random_model')
    cfg = load_config(str(REPO / 'configs' / 'efficientnet'
                          / 'efficientnet-b0-fpn_re-ra-rf_1xb32-adamw-10e_tbcxr-512px.py'),
                      img_size=64)
    cfg.dump(str(root / 'config.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, root / 'model.pth')
    return root / 'config.py', root / 'model.pth'


@pytest.mark.slow
def test_labelled_folder_is_scored_by_the_model(tool, tmp_path, random_weights_model):
    config, checkpoint = random_weights_model
    rng = np.random.default_rng(0)
    for folder, lesion, count in (('normal', False, 4), ('TB', True, 3)):
        (tmp_path / 'data' / folder).mkdir(parents=True)
        for i in range(count):
            cv2.imwrite(str(tmp_path / 'data' / folder / f'{i}.png'),
                        synthetic_xray(rng, 64, lesion=lesion)[0])
    out = tmp_path / 'op.json'
    assert tool.main(['--data', str(tmp_path / 'data'), '--config', str(config),
                      '--checkpoint', str(checkpoint), '--out', str(out), '--batch-size', '3',
                      '--n-boot', '50']) == 0
    point = json.loads(out.read_text())
    assert (point['n_tb'], point['n_normal']) == (3, 4)
    assert 0 <= point['threshold'] <= 1 and point['sensitivity'] >= 0.9
    assert str(checkpoint) in point['chosen_on'] and point['warning']


def test_unknown_class_folder_exits_2(tool, tmp_path, capsys, random_weights_model):
    config, checkpoint = random_weights_model
    (tmp_path / 'data' / 'maybe').mkdir(parents=True)
    cv2.imwrite(str(tmp_path / 'data' / 'maybe' / 'a.png'), np.zeros((64, 64), np.uint8))
    assert tool.main(['--data', str(tmp_path / 'data'), '--config', str(config),
                      '--checkpoint', str(checkpoint), '--out', str(tmp_path / 'o.json')]) == 2
    err = capsys.readouterr().err
    assert 'unknown class folder' in err and err.count('\n') == 1


def test_local_calibration_simulation_holds_cases_out_and_shows_small_sets_are_risky():
    from mmtb.evaluation.calibration import simulate_local_calibration
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(300), np.zeros(300)].astype(int)
    # a site where the model ranks well but its scores are shifted: 0.5 is useless here
    scores = 1 / (1 + np.exp(-(labels * 3.0 + rng.normal(0, 1, 600) + 4)))
    small = simulate_local_calibration(scores, labels, 10, 10, repeats=200)
    large = simulate_local_calibration(scores, labels, 100, 100, repeats=200)
    for result in (small, large):
        assert 0.8 < result['sensitivity']['median'] < 0.97
        assert result['specificity']['median'] > 0.6
        assert result['sensitivity']['p05'] <= result['sensitivity']['median']
    # more calibration cases: a steadier held-out sensitivity
    spread = [r['sensitivity']['p95'] - r['sensitivity']['p05'] for r in (small, large)]
    assert spread[1] < spread[0]
    with pytest.raises(CalibrationInputError, match='hold some out'):
        simulate_local_calibration(scores, labels, 300, 10)


@pytest.mark.slow
def test_local_calibration_tool_prints_and_writes_a_table(tmp_path):
    path = write_csv(tmp_path / 'scores.csv', ['file', 'label', 'prob_tb'],
                     [(f'{i}.png', i % 2, (i % 2) * 0.5 + (i % 7) / 20) for i in range(80)])
    out = tmp_path / 'local.json'
    result = run_tool('tools/analysis_tools/local_calibration.py', path, '--sizes', '5:5',
                      '--targets', '0.9', '--repeats', '20', '--out', out)
    assert result.returncode == 0, result.stderr
    assert '| 5 + 5 | 0.90 |' in result.stdout
    settings = json.loads(out.read_text())['settings']
    assert settings[0]['repeats'] == 20 and 0 <= settings[0]['who_target_met'] <= 1


def test_sensitivity_lower_bound_is_the_clopper_pearson_bound():
    from scipy.stats import binom

    from mmtb.evaluation.metrics import min_tb_cases, sensitivity_lower_bound
    # all found: the bound has the closed form (1 - confidence) ** (1 / n)
    assert sensitivity_lower_bound(29, 29, 0.95) == pytest.approx(0.05 ** (1 / 29))
    # otherwise it is the p at which k or more detections have probability 1 - confidence
    bound = sensitivity_lower_bound(95, 100, 0.95)
    assert binom.sf(94, 100, bound) == pytest.approx(0.05, abs=1e-6)
    assert sensitivity_lower_bound(0, 10, 0.95) == 0
    assert min_tb_cases(0.9, 0.95) == 29  # 0.9 ** 29 < 0.05 <= 0.9 ** 28


def test_confidence_rule_keeps_the_target_as_the_lower_bound(tool, tmp_path, capsys):
    from mmtb.evaluation.metrics import threshold_for_sensitivity
    tb = [i / 100 for i in range(1, 101)]  # 0.01 .. 1.00
    normal = [i / 1000 for i in range(100)]
    scores, labels = tb + normal, [1] * 100 + [0] * 100
    # plain: 90 of 100 TB found; with 95 % confidence 96 must be found (the bound of 95/100
    # is 0.898, of 96/100 0.911)
    assert threshold_for_sensitivity(scores, labels, 0.9) == pytest.approx(0.11)
    assert threshold_for_sensitivity(scores, labels, 0.9, confidence=0.95) == pytest.approx(0.05)
    out = tmp_path / 'op.json'
    status = tool.main(['--scores', str(scores_csv(tmp_path / 's.csv', tb, normal)), '--out',
                        str(out), '--n-boot', '100', '--confidence', '0.95'])
    assert status == 0
    point = read_operating_point(out)
    assert point['threshold'] == pytest.approx(0.05)
    assert point['sensitivity'] == pytest.approx(0.96)
    assert point['sensitivity_confidence'] == 0.95
    assert point['threshold_ci'][0] <= 0.05 <= point['threshold_ci'][1]
    assert 'lower 95% confidence bound' in capsys.readouterr().out


def test_confidence_rule_needs_enough_tb_cases(tool, tmp_path, capsys):
    status = tool.main(['--scores', str(scores_csv(tmp_path / 's.csv')), '--out',
                        str(tmp_path / 'op.json'), '--confidence', '0.95'])
    assert status == 2
    err = capsys.readouterr().err
    assert 'at least 29 TB cases' in err and err.count('\n') == 1
    assert not (tmp_path / 'op.json').exists()


@pytest.mark.slow
def test_local_calibration_with_the_confidence_rule_misses_the_target_less_often():
    from mmtb.evaluation.calibration import local_calibration_table, simulate_local_calibration
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(300), np.zeros(300)].astype(int)
    scores = 1 / (1 + np.exp(-(labels * 3.0 + rng.normal(0, 1, 600))))
    plain = simulate_local_calibration(scores, labels, 50, 50, repeats=200)
    bound = simulate_local_calibration(scores, labels, 50, 50, repeats=200, confidence=0.95)
    assert plain['sensitivity']['median'] < 0.92 < bound['sensitivity']['p05'] + 0.05
    assert bound['sensitivity']['median'] > plain['sensitivity']['median']
    assert bound['specificity']['median'] < plain['specificity']['median']  # the price
    assert bound['sensitivity_below_target'] < 0.15 < 0.3 < plain['sensitivity_below_target']
    assert '0.90 (lower 95 % bound)' in local_calibration_table([plain, bound])
    with pytest.raises(CalibrationInputError, match='at least 29'):
        simulate_local_calibration(scores, labels, 25, 25, confidence=0.95)
