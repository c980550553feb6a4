"""Seed-group comparison (mmtb.evaluation.metrics.seed_groups) and its CLI."""
import json

import numpy as np
import pytest
from conftest import load_script

from mmtb.evaluation.metrics import write_scores
from mmtb.evaluation.metrics.seed_groups import compare_seed_groups, ensemble_operating_point

LABELS = [1] * 40 + [0] * 40
FILES = [f'img{i:02d}.png' for i in range(len(LABELS))]


def run(signal: float, seed: int) -> dict:
    """One run's {file: (label, prob_tb)}: noise plus ``signal`` times the label."""
    rng = np.random.default_rng(seed)
    return {f: (y, float(np.clip(0.3 + signal * y + 0.2 * rng.random(), 0, 1)))
            for f, y in zip(FILES, LABELS)}


@pytest.mark.slow
def test_a_clearly_better_config_wins_over_seeds_and_images():
    weak = [run(0.05, s) for s in range(3)]
    strong = [run(0.4, 10 + s) for s in range(3)]
    result = compare_seed_groups(weak, strong, n_boot=200)
    assert result['num_images'] == 80 and result['num_tb'] == 40
    assert len(result['reference_aucs']) == 3 and len(result['aucs']) == 3
    assert result['mean_auc'] == pytest.approx(np.mean(result['aucs']))
    assert 0 < result['delta_ci_low'] <= result['delta_mean_auc'] <= result['delta_ci_high']
    assert result['ensemble_auc'] >= result['mean_auc'] - 1e-9  # averaging seeds removes noise
    assert result['ensemble_delta_ci_low'] > 0


@pytest.mark.slow
def test_one_config_against_itself_has_a_ci_around_zero():
    runs = [run(0.1, s) for s in range(3)]
    result = compare_seed_groups(runs, runs, n_boot=200)
    assert result['delta_mean_auc'] == 0
    assert result['delta_ci_low'] < 0 < result['delta_ci_high']


def test_refuses_single_runs_and_conflicting_labels():
    with pytest.raises(ValueError, match='at least two runs'):
        compare_seed_groups([run(0.1, 0)], [run(0.2, 1), run(0.2, 2)])
    relabelled = {f: (1 - y, p) for f, (y, p) in run(0.1, 3).items()}
    with pytest.raises(ValueError, match='label the same image differently'):
        compare_seed_groups([run(0.1, 0), relabelled], [run(0.2, 1), run(0.2, 2)])


def test_ensemble_threshold_comes_from_internal_scores_only():
    internal = [{f: (y, 0.9 if y else 0.1) for f, y in zip(FILES, LABELS)}] * 2
    external = [{f: (y, 0.5) for f, y in zip(FILES, LABELS)}] * 2  # no signal, below 0.9
    op = ensemble_operating_point(internal, external)
    assert op['threshold'] == pytest.approx(0.9)
    assert op['sensitivity'] == 0 and op['specificity'] == 1


@pytest.mark.slow
def test_cli_writes_the_comparison(tmp_path, capsys):
    def folder(name, signal, seed):
        path = tmp_path / name
        path.mkdir()
        for test_set in ('internal', 'ext'):
            scores = run(signal, seed + (test_set == 'ext'))
            write_scores(path / f'scores_{test_set}.csv', list(scores),
                         [y for y, _ in scores.values()], [p for _, p in scores.values()])
        return str(path)

    tool = load_script('tools/analysis_tools/compare_seeds.py', 'compare_seeds')
    out = tmp_path / 'seeds.json'
    assert tool.main(['--reference', folder('a0', 0.05, 0), folder('a1', 0.05, 2),
                      '--other', folder('b0', 0.4, 4), folder('b1', 0.4, 6),
                      '--names', 'weak', 'strong', '--test-set', 'ext', '--n-boot', '100',
                      '--out', str(out)]) == 0
    record = json.loads(out.read_text())
    assert record['names'] == ['weak', 'strong'] and record['delta_mean_auc'] > 0
    assert set(record['ensembles']) == {'weak', 'strong'}
    assert 'strong - weak: mean AUC' in capsys.readouterr().out
    assert tool.main(['--reference', str(tmp_path / 'a0'), '--other', str(tmp_path / 'b0'),
                      '--test-set', 'missing']) == 2
