"""Screening metrics: TB positive, AUC with CI, thresholds chosen on one set, applied to another."""
import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from mmtb.evaluation import ScreeningMetric
from mmtb.evaluation.metrics import rates_at, screening_report, threshold_for_sensitivity


@pytest.fixture
def scores_labels():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(60, int), np.zeros(140, int)]
    scores = np.clip(rng.normal(0.35 + 0.35 * labels, 0.2), 0, 1)
    return scores, labels


def test_paper_metrics_match_scikit_learn_with_tb_positive(scores_labels):
    scores, labels = scores_labels
    report = screening_report(scores, labels, n_boot=50)
    pred = (scores >= 0.5).astype(int)
    assert report['precision'] == pytest.approx(100 * precision_score(labels, pred))
    assert report['recall'] == pytest.approx(100 * recall_score(labels, pred))
    assert report['f1'] == pytest.approx(100 * f1_score(labels, pred))
    assert report['specificity'] == pytest.approx(100 * np.mean(pred[labels == 0] == 0))
    assert report['auc'] == pytest.approx(roc_auc_score(labels, scores))
    assert report['auc_ci_low'] < report['auc'] < report['auc_ci_high']


def test_threshold_for_sensitivity_is_the_highest_that_reaches_it(scores_labels):
    scores, labels = scores_labels
    thr = threshold_for_sensitivity(scores, labels, 0.9)
    assert rates_at(scores, labels, thr)['sensitivity'] >= 0.9
    higher = np.min(scores[scores > thr])
    assert rates_at(scores, labels, higher)['sensitivity'] < 0.9


def test_operating_threshold_is_applied_unchanged(scores_labels):
    scores, labels = scores_labels
    report = screening_report(scores, labels, operating_threshold=0.6, n_boot=10)
    op = rates_at(scores, labels, 0.6)
    assert report['op/threshold'] == 0.6
    assert report['op/sensitivity'] == pytest.approx(100 * op['sensitivity'])
    assert report['op/who_target_met'] == (op['sensitivity'] >= .9 and op['specificity'] >= .7)


def test_metric_plugs_into_mmengine_evaluation(scores_labels):
    scores, labels = scores_labels
    metric = ScreeningMetric(n_boot=20)
    samples = [dict(pred_score=torch.tensor([1 - s, s]), gt_label=torch.tensor([y]))
               for s, y in zip(scores, labels)]
    metric.process({}, samples)
    result = metric.evaluate(len(samples))
    assert result['screening/auc'] == pytest.approx(roc_auc_score(labels, scores))
    assert result['screening/num_tb'] == 60


def test_single_class_set_reports_rates_without_auc():
    report = screening_report([0.2, 0.7], [1, 1], n_boot=5)
    assert report['sensitivity'] == 50.0 and 'auc' not in report


@pytest.mark.slow
def test_paired_bootstrap_auc_delta_brackets_the_change_and_is_zero_for_one_model():
    from mmtb.evaluation.metrics import paired_bootstrap_auc_delta
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(100), np.zeros(100)].astype(int)
    weak = labels * 0.5 + rng.normal(0, 0.5, 200)
    strong = labels * 1.5 + rng.normal(0, 0.5, 200)
    delta, low, high = paired_bootstrap_auc_delta(weak, strong, labels, n_boot=200)
    assert 0 < low < delta < high
    assert paired_bootstrap_auc_delta(weak, weak, labels, n_boot=50) == (0.0, 0.0, 0.0)


def test_scores_file_round_trips_per_image_scores(tmp_path):
    from mmtb.evaluation.metrics import read_scores
    metric = ScreeningMetric(scores_file=str(tmp_path / 'scores.csv'), n_boot=10)
    samples = [dict(pred_score=torch.tensor([1 - p, p]), gt_label=torch.tensor([y]),
                    img_path=f'/data/x/img{i}.png')
               for i, (p, y) in enumerate([(0.9, 1), (0.2, 0), (0.99999994, 1), (0.4, 0)])]
    metric.process(None, samples)
    metric.evaluate(4)
    scores = read_scores(tmp_path / 'scores.csv')
    assert scores['img2.png'] == (1, pytest.approx(0.99999994, abs=1e-8))
    assert scores['img1.png'] == (0, pytest.approx(0.2))


def test_scores_file_keeps_images_that_share_a_file_name_apart(tmp_path):
    from mmtb.evaluation.metrics import read_scores
    metric = ScreeningMetric(scores_file=str(tmp_path / 'scores.csv'), n_boot=10)
    paths = ['/data/site_a/TB/1.png', '/data/site_b/TB/1.png', '/data/site_a/Normal/2.png']
    metric.process(None, [dict(pred_score=torch.tensor([1 - p, p]), gt_label=torch.tensor([y]),
                               img_path=path)
                          for path, p, y in zip(paths, (0.9, 0.8, 0.1), (1, 1, 0))])
    metric.evaluate(3)
    scores = read_scores(tmp_path / 'scores.csv')
    assert scores == {'site_a/TB/1.png': (1, pytest.approx(0.9)),
                      'site_b/TB/1.png': (1, pytest.approx(0.8)),
                      'site_a/Normal/2.png': (0, pytest.approx(0.1))}


def test_compare_scores_tool_pairs_images_and_refuses_mismatched_labels(tmp_path, capsys):
    import json

    from conftest import load_script

    from mmtb.evaluation.metrics import write_scores
    rng = np.random.default_rng(0)
    labels = [1] * 30 + [0] * 30
    files = [f'img{i}.png' for i in range(60)]
    weak = [rng.random() + 0.2 * y for y in labels]
    strong = [0.2 + 0.6 * y + 0.1 * rng.random() for y in labels]
    write_scores(tmp_path / 'weak.csv', files, labels, weak)
    write_scores(tmp_path / 'strong.csv', files[:50], labels[:50], strong[:50])  # fewer images
    write_scores(tmp_path / 'relabelled.csv', files, [1 - y for y in labels], strong)
    tool = load_script('tools/analysis_tools/compare_scores.py', 'compare_scores')
    out = tmp_path / 'cmp.json'
    assert tool.main([str(tmp_path / 'weak.csv'), str(tmp_path / 'strong.csv'),
                      '--names', 'weak', 'strong', '--n-boot', '100', '--out', str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row['num_images'] == 50 and row['num_tb'] == 30 and row['auc'] == 1.0
    assert 0 < row['delta_ci_low'] <= row['delta_auc'] <= row['delta_ci_high']
    assert '| strong | 1.000 |' in capsys.readouterr().out
    assert tool.main([str(tmp_path / 'weak.csv'), str(tmp_path / 'relabelled.csv')]) == 2
    assert 'label the same image differently' in capsys.readouterr().err


def test_compare_scores_against_the_mean_of_runs_reports_how_far_scores_moved(tmp_path):
    import json

    from conftest import load_script

    from mmtb.evaluation.metrics import write_scores
    labels, files = [1, 1, 0, 0], ['a.png', 'b.png', 'c.png', 'd.png']
    write_scores(tmp_path / 'run0.csv', files, labels, [0.9, 0.7, 0.2, 0.1])
    write_scores(tmp_path / 'run1.csv', files, labels, [0.7, 0.5, 0.4, 0.1])
    write_scores(tmp_path / 'rounded.csv', files, labels, [0.8, 0.65, 0.3, 0.1])  # mean + 0.05
    tool = load_script('tools/analysis_tools/compare_scores.py', 'compare_scores')
    out = tmp_path / 'cmp.json'
    assert tool.main([str(tmp_path / 'rounded.csv'), '--reference-runs',
                      str(tmp_path / 'run0.csv'), str(tmp_path / 'run1.csv'),
                      '--n-boot', '20', '--out', str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row['max_abs_diff'] == pytest.approx(0.05) and row['median_abs_diff'] == 0
    assert row['auc'] == row['reference_auc'] == 1.0
