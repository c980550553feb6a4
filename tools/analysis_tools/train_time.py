"""Training time of finished runs, read from the per-iteration scalars mmengine logged.

    python tools/analysis_tools/train_time.py results/ablation_224px/*/ \\
        --out docs/benchmarks/train_time_ablation_224px.json

For each run folder (``scalars_*.json`` as ``tools/run_ablation.py`` collects them, or a work
dir's ``*/vis_data/scalars.json``): the median seconds per training iteration, the first logged
interval (where ``torch.compile`` and oneDNN warm-up fall) and how many sessions the run took
(an interrupted run resumes in a new one). Step times include whatever else ran on the
machine meanwhile, so they record what a run cost; they are not a controlled comparison
(``benchmark.py`` is that).
"""
import argparse
import json
import statistics
import sys
from pathlib import Path


def scalar_files(run: Path) -> list[Path]:
    return sorted(run.glob('scalars_*.json')) or sorted(run.glob('*/vis_data/scalars.json'))


def train_records(path: Path) -> list[dict]:
    """Training-iteration lines only (validation lines carry metrics, not ``lr``)."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if 'lr' in r and 'time' in r]


def summarize(run: Path) -> dict:
    sessions = [records for records in map(train_records, scalar_files(run)) if records]
    if not sessions:
        raise ValueError(f'{run}: no training scalars (scalars_*.json) found')
    times = [r['time'] for records in sessions for r in records]
    metrics = run / 'metrics.json'
    train_args = json.loads(metrics.read_text()).get('train_args') if metrics.is_file() else None
    return dict(run=run.name, train_args=train_args, sessions=len(sessions),
                median_s_per_iter=round(statistics.median(times), 3),
                first_interval_s_per_iter=round(sessions[0][0]['time'], 3))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', help='run folders (results/<exp>/<run> or work dirs)')
    parser.add_argument('--out', help='JSON file to write')
    args = parser.parse_args(argv)
    rows = []
    for run in map(Path, args.runs):
        try:
            rows.append(summarize(run))
        except ValueError as error:
            print(f'skipped: {error}', file=sys.stderr)
    print('| run | training options | s/iter (median) | first 10 iters (s/iter) | sessions |')
    print('|---|---|---|---|---|')
    for row in rows:
        options = ' '.join(row['train_args'] or []) or '–'
        print(f"| {row['run']} | {options} | {row['median_s_per_iter']} "
              f"| {row['first_interval_s_per_iter']} | {row['sessions']} |")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + '\n')
    return 0 if rows else 1


if __name__ == '__main__':
    sys.exit(main())
