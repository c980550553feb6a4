"""tools/analysis_tools/train_time.py: per-run step times from mmengine's logged scalars."""
import json

from conftest import load_script


def load_tool():
    return load_script('tools/analysis_tools/train_time.py', 'train_time')


def write_scalars(path, times, val_every=2):
    lines = []
    for i, t in enumerate(times, 1):
        lines.append(dict(lr=1e-3, time=t, data_time=0.01, loss=0.5, iter=10 * i, step=10 * i))
        if i % val_every == 0:
            lines.append(dict(**{'screening/auc': 0.9}, step=i // val_every))
    path.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')


def test_train_time_summarizes_every_session(tmp_path, capsys):
    run = tmp_path / 'b0_run'
    run.mkdir()
    write_scalars(run / 'scalars_20260101_000000.json', [9.0, 3.0, 3.0])  # compile, then steady
    write_scalars(run / 'scalars_20260101_010000.json', [4.0, 2.0])  # resumed
    (run / 'metrics.json').write_text(json.dumps(dict(train_args=['--compile'])))
    (tmp_path / 'empty').mkdir()
    out = tmp_path / 'times.json'
    assert load_tool().main([str(run), str(tmp_path / 'empty'), '--out', str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row == dict(run='b0_run', train_args=['--compile'], sessions=2,
                       median_s_per_iter=3.0, first_interval_s_per_iter=9.0)
    captured = capsys.readouterr()
    assert '| b0_run | --compile | 3.0 | 9.0 | 2 |' in captured.out
    assert 'skipped' in captured.err
