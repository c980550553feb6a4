"""tools/analysis_tools/threshold_rules.py: the internal threshold by both rules, applied
unchanged to another set's scores."""
import json

import pytest
from conftest import run_tool


def write_scores(path, rows):
    path.write_text('file,label,prob_tb\n' + '\n'.join(f'{i}.png,{y},{s}'
                                                      for i, (y, s) in enumerate(rows)))


def run_with_internal_scores(tmp_path):
    """A run folder whose internal scores put the plain threshold at 0.11, the 95 %-bound one
    at 0.05 (100 TB at 0.01 .. 1.00, 50 normals at 0.001)."""
    run = tmp_path / 'run'
    run.mkdir()
    write_scores(run / 'scores_internal.csv',
                 [(1, i / 100) for i in range(1, 101)] + [(0, 0.001)] * 50)
    return run


@pytest.mark.slow
def test_both_rules_are_applied_to_the_external_scores(tmp_path):
    run = run_with_internal_scores(tmp_path)
    # external: TB spread lower; normals at 0.08: only the bound rule finds 90 % of the TB
    write_scores(run / 'scores_ext.csv',
                 [(1, 0.06 + i / 1000) for i in range(90)] + [(1, 0.01)] * 10 +
                 [(0, 0.02)] * 80 + [(0, 0.08)] * 20)
    (tmp_path / 'empty').mkdir()  # no scores: skipped
    out = tmp_path / 'rules.json'
    result = run_tool('tools/analysis_tools/threshold_rules.py', run, tmp_path / 'empty',
                      '--test-set', 'ext', '--out', out)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(out.read_text())['runs']
    assert row['plain']['threshold'] == 0.11 and row['bound']['threshold'] == 0.05
    assert row['plain']['sensitivity'] < 0.9 and not row['plain']['who_target_met']
    assert row['bound']['sensitivity'] == 0.9 and row['bound']['specificity'] == 0.8
    assert row['bound']['who_target_met']
    assert '1 of 1 with the 95%-bound rule' in out.with_suffix('.md').read_text()


@pytest.mark.slow
def test_a_tb_only_set_gets_sensitivity_but_no_specificity_or_who_verdict(tmp_path):
    run = run_with_internal_scores(tmp_path)
    write_scores(run / 'scores_tbonly.csv', [(1, 0.5)] * 30 + [(1, 0.02)] * 10)
    out = tmp_path / 'rules.json'
    result = run_tool('tools/analysis_tools/threshold_rules.py', run, '--test-set', 'tbonly',
                      '--out', out)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(out.read_text())['runs']
    assert row['plain']['sensitivity'] == 0.75 and row['plain']['specificity'] is None
    assert row['bound']['who_target_met'] is None
    assert 'no specificity, no WHO verdict' in out.with_suffix('.md').read_text()
