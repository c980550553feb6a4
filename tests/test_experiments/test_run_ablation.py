"""tools/run_ablation.py trains, skips finished runs, reports failures, writes the table."""
import json

import pytest
from conftest import REPO, load_script, run_tool

CONFIG = 'configs/efficientnet/efficientnet-b0-fpn_noaug_1xb32-adamw-10e_tbcxr-512px.py'


def tiny_train_args(root):
    return ['--train-args', '--cfg-options', 'train_cfg.max_epochs=1',
            'train_dataloader.batch_size=8', 'val_dataloader.batch_size=8',
            'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.persistent_workers=False',
            f'train_dataloader.dataset.data_root={root}',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}']


@pytest.mark.slow
def test_grid_runs_skips_and_reports_failures(tiny_dataset, tmp_path):
    results, work = tmp_path / 'results', tmp_path / 'work'
    broken = tmp_path / 'broken.py'
    broken.write_text(f"_base_ = ['{REPO / CONFIG}']\nmodel = dict(backbone=dict(arch='nope'))\n")
    args = [CONFIG, str(broken), '--img-size', '64', '--results-dir', results,
            '--work-root', work, '--external', f'ext={tiny_dataset}',
            *tiny_train_args(tiny_dataset)]
    first = run_tool('tools/run_ablation.py', *args, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    table = (results / 'table.md').read_text()
    assert 'efficientnet-b0-fpn' in table and 'none' in table
    assert '85.9 / 78.0 / 88.0 / 80.9' in table  # the paper's row beside ours
    assert 'failed: training' in table  # the broken config is in the table, not left out
    assert 'ext AUC (95% CI)' in table
    run_dir = results / 'efficientnet-b0-fpn_noaug_1xb32-adamw-10e_tbcxr-64px'
    record = json.loads((run_dir / 'metrics.json').read_text())
    assert record['status'] == 'ok'
    assert record['train_args'][:2] == ['--cfg-options', 'train_cfg.max_epochs=1']
    assert 'screening/op/threshold' in record['metrics']['ext']
    assert list(run_dir.glob('train_*.log'))
    assert (results / 'table.csv').is_file()

    second = run_tool('tools/run_ablation.py', *args, timeout=600)
    assert second.returncode == 0
    log = (work / run_dir.name / 'ablation_train.log').read_text()
    assert log.count('Saving checkpoint at 1 epochs') == 1  # the finished run was skipped


def _metrics(auc):
    return {'screening/accuracy': 90.0, 'screening/auc': auc, 'screening/auc_ci_low': auc - 0.05,
            'screening/auc_ci_high': min(1.0, auc + 0.05)}


@pytest.mark.slow
def test_table_names_study_steps_and_shows_change_from_a_baseline(tmp_path):
    from mmtb.experiments import results_table
    study = ('configs/robust/efficientnet-lite0-in1k-pre-fpn_re-ra-rf{}_1xb32-adamw-5e_'
             'tbcxr-512px.py')
    for suffix, ext_auc in (('', 0.80), ('-clahe', 0.85), ('-robust', 0.78)):
        run = tmp_path / f'run{suffix}'
        run.mkdir()
        (run / 'metrics.json').write_text(json.dumps(dict(
            config=study.format(suffix), img_size=224, seed=None, status='ok',
            metrics={'internal': _metrics(0.99), 'ext': _metrics(ext_auc)})))
    from mmtb.evaluation.metrics import write_scores
    labels = [1] * 20 + [0] * 20
    for suffix, shift in (('', 0.1), ('-robust', 0.03)):  # per-image scores of two runs
        scores = [0.5 + shift * (2 * y - 1) + 0.02 * (i % 7) for i, y in enumerate(labels)]
        write_scores(tmp_path / f'run{suffix}' / 'scores_ext.csv',
                     [f'{i}.png' for i in range(40)], labels, scores)
    table = results_table(tmp_path, baseline='run')
    rows = {line.split(' | ')[0].strip('| '): line for line in table.splitlines()[2:]}
    assert 'RE+RA+RF + CLAHE' in rows['run-clahe'] and '+0.050' in rows['run-clahe']
    assert 'RE+RA+RF + all cue steps' in rows['run-robust']
    assert 'ext ΔAUC' in table and 'internal ΔAUC' in table
    from mmtb.experiments.table import table_rows
    deltas = {row['Run']: row['ext ΔAUC'] for row in table_rows(tmp_path, baseline='run')}
    assert deltas['run-robust'].startswith('-')  # from the per-image scores,
    assert deltas['run-robust'].count('(') == 1  # with its paired bootstrap CI
    assert deltas['run-clahe'] == '+0.050'  # no scores kept: no CI


def test_table_shows_the_spread_between_seeds_of_one_config(tmp_path):
    from mmtb.experiments import results_table
    for run, seed, ext_auc in (('a', None, 0.92), ('a_seed1', 1, 0.78), ('b', None, 0.80)):
        (tmp_path / run).mkdir()
        (tmp_path / run / 'metrics.json').write_text(json.dumps(dict(
            config=CONFIG if run != 'b' else CONFIG.replace('noaug', 're'), img_size=224,
            seed=seed, status='ok',
            metrics={'internal': _metrics(0.99), 'ext': _metrics(ext_auc)})))
    table = results_table(tmp_path)
    spread = table.split('## Seed spread')[1]
    assert '| efficientnet-b0-fpn | none | ext | default, 1 | 0.920 / 0.780 | 0.140 |' in spread
    assert '| RE |' not in spread  # one seed only: no spread


def load_runner():
    return load_script('tools/run_ablation.py', 'run_ablation')


def test_paths_given_from_another_directory_and_external_specs(tmp_path, monkeypatch, capsys):
    import pytest
    runner = load_runner()
    monkeypatch.chdir(tmp_path)
    assert runner.repo_path(str(REPO / CONFIG)) == CONFIG  # recorded as from the repo root
    assert runner.repo_path('results') == str(tmp_path / 'results')  # the caller's folder
    args = runner.parse_args(['--results-dir', 'r', '--external', 'pk=data/pk'])
    assert args.external == [('pk', 'data/pk')]
    for bad in ('pakistan256', 'internal=data/x', '=data/x', 'pk='):
        with pytest.raises(SystemExit):
            runner.parse_args(['--results-dir', 'r', '--external', bad])
        assert 'NAME=DATA_ROOT' in capsys.readouterr().err


def test_table_shows_sensitivity_per_kind_for_a_tb_only_set(tmp_path):
    from mmtb.experiments.table import table_rows
    tb_only = {'screening/sensitivity': 40.0, 'screening/num_tb': 10,
               'screening/op/threshold': 0.4, 'screening/op/sensitivity': 44.0,
               'screening/op/sensitivity_ci_low': 39.1, 'screening/op/sensitivity_ci_high': 49.0,
               'screening/group/active/op/sensitivity': 45.3,
               'screening/group/active/op/sensitivity_ci_low': 40.0,
               'screening/group/active/op/sensitivity_ci_high': 50.7}
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'metrics.json').write_text(json.dumps(dict(
        config=CONFIG, img_size=128, seed=0, status='ok',
        metrics={'internal': _metrics(0.99), 'tbx11k': tb_only})))
    row = table_rows(tmp_path)[0]
    assert row['tbx11k Sens @thr (95% CI)'] == '44.0 (39.1-49.0)'
    assert row['tbx11k Sens active'] == '45.3 (40.0-50.7)'
    assert not [column for column in row if column.startswith('tbx11k') and (
        'AUC' in column or 'Spec' in column or 'WHO' in column)]


def test_the_library_never_runs_a_tools_script():
    """mmtb's subprocesses run library entry points (python -m mmtb...), never a tools/ path:
    tools/ are thin wrappers that a pip-installed mmtb does not have."""
    import ast
    for path in sorted((REPO / 'mmtb').rglob('*.py')):
        tree = ast.parse(path.read_text())
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Attribute)
                 and getattr(node.func.value, 'id', None) in ('subprocess', 'os')]
        for call in calls:
            for const in (n for n in ast.walk(call) if isinstance(n, ast.Constant)):
                value = str(const.value)
                assert value != 'tools' and not value.startswith('tools/'), (
                    f'{path.relative_to(REPO)}:{call.lineno} runs a tools/ script')


def test_a_results_record_names_the_size_config_that_ran():
    """``--img-size 224`` on a 512 px config is recorded as its '-224px' leaf where one exists,
    so every committed run names the config that ran (tests/test_configs.py checks them)."""
    from mmtb.experiments.ablation import AblationRun, config_that_ran
    paper = 'configs/resnet/resnet50-fpn_re_1xb32-adamw-10e_tbcxr-512px.py'
    assert config_that_ran(AblationRun(paper, img_size=224)) == paper.replace('512px', '224px')
    assert config_that_ran(AblationRun(paper)) == paper
    assert config_that_ran(AblationRun(paper, img_size=96)) == paper  # no such leaf
