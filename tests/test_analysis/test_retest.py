"""The borderline band: measured from how far small edits move the scores, not chosen."""
import json

import numpy as np
import pytest
from conftest import chest, load_script

from mmtb.analysis.retest import (
    RETEST_EDITS,
    band_from_jitter,
    logit,
    retest_band,
    retest_jitter,
    scores_and_retest_jitter,
)
from mmtb.apis.triage import borderline_band


def brightness_model(greys):
    """P(TB) rises with the mean grey: brightness edits move it, other edits barely."""
    return [1 / (1 + np.exp(-(float(g.mean()) - 100) / 10)) for g in greys]


def test_the_jitter_is_the_largest_logit_change_over_the_edits():
    greys = [chest(96, seed) for seed in range(5)]
    jitter = retest_jitter(brightness_model, greys, batch_size=2)
    assert jitter.shape == (5, ) and (jitter > 0).all()
    # the logit of this model is (mean - 100) / 10: brightness 0.95 / 1.05 move it by 5 %
    # of the mean / 10, and no other edit moves the mean as far
    expected = [0.05 * g.mean() / 10 for g in greys]
    assert jitter == pytest.approx(expected, rel=0.15)
    assert len(RETEST_EDITS) == 8


def test_the_unedited_scores_come_with_the_jitter_from_one_screening():
    greys = [chest(64, seed) for seed in range(3)]
    calls = []

    def counting_model(batch):
        calls.append(len(batch))
        return brightness_model(batch)

    scores, jitter = scores_and_retest_jitter(counting_model, greys, batch_size=2)
    assert scores.tolist() == pytest.approx(brightness_model(greys))
    assert jitter.tolist() == pytest.approx(retest_jitter(brightness_model, greys, batch_size=2))
    assert sum(calls) == len(greys) * (1 + len(RETEST_EDITS))  # each image once unedited


def test_a_model_the_edits_do_not_move_has_no_band_width():
    jitter = retest_jitter(lambda greys: [0.3] * len(greys), [chest(64)])
    assert jitter.tolist() == [0.0]
    assert band_from_jitter(0.3, jitter) == pytest.approx((0.3, 0.3))


def test_the_band_is_symmetric_on_the_logit_scale_around_the_threshold():
    low, high = band_from_jitter(0.2, [0.1, 0.2, 0.5, 1.0], quantile=1.0)
    assert logit(low) == pytest.approx(logit(0.2) - 1.0)
    assert logit(high) == pytest.approx(logit(0.2) + 1.0)
    entry = retest_band(0.2, [0.1, 0.2, 0.5, 1.0], measured_on='4 X-rays')
    assert entry['n_images'] == 4 and '4 X-rays' in entry['rule']
    assert borderline_band(dict(threshold=0.2, borderline_band=entry)) == (
        pytest.approx(entry['low']), pytest.approx(entry['high']))


@pytest.mark.slow
def test_the_tool_stores_the_band_in_the_operating_point(tiny_checkpoint, tiny_dataset,
                                                         tmp_path, capsys):
    tool = load_script('tools/analysis_tools/borderline_band.py', 'borderline_band_tool')
    point = tmp_path / 'operating_point.json'
    point.write_text(json.dumps(dict(threshold=0.5, chosen_on='test')))
    jitter_csv = tmp_path / 'jitter.csv'
    assert tool.main([str(tiny_dataset / 'meta' / 'test.json'),
                      '--checkpoint', str(tiny_checkpoint.checkpoint),
                      '--operating-point', str(point), '--jitter-csv', str(jitter_csv)]) == 0
    stored = json.loads(point.read_text())
    assert stored['chosen_on'] == 'test'  # the rest of the operating point is kept
    band = stored['borderline_band']
    assert band['low'] <= 0.5 <= band['high'] and band['n_images'] == 8
    assert len(jitter_csv.read_text().splitlines()) == 9
    assert capsys.readouterr().out.startswith('borderline band ')
