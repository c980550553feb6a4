"""Throughput of tools/screen.py against tools/dist_screen.sh at 1..N processes, as JSON.

    nice -n 10 python tools/analysis_tools/benchmark_dist_screen.py ../shared/data/pakistan256 \\
        --nproc 1 2 --out docs/benchmarks/dist_screen.json

Each run screens the whole folder with the same model and options (the shipped default unless
screen.py options follow ``--``) and is timed from start to exit, model loading included, as a
user waits for it. Every distributed CSV is checked to be byte for byte the CSV of screen.py
run with one thread (what torchrun gives each of several ranks: oneDNN's last float digits
depend on the thread count, not on the sharding), and its largest |dP(TB)| from screen.py
with torch's default threads is recorded. The runs are interleaved ``--rounds`` times so that
a load that changes during the benchmark (other jobs on the machine) hits every setting
alike; compare within one JSON.
"""
import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark tools/dist_screen.sh.')
    parser.add_argument('folder', help='folder of X-rays to screen')
    parser.add_argument('--nproc', type=int, nargs='+', default=[1, 2],
                        help='process counts for dist_screen.sh')
    parser.add_argument('--rounds', type=int, default=2, help='interleaved repetitions')
    parser.add_argument('--out', help='JSON file to write')
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index('--') if '--' in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.screen_options = argv[split + 1:]  # after --: options for screen.py
    return args


def timed(command, env) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'{" ".join(command)} failed:\n{result.stderr[-3000:]}')
    return time.perf_counter() - start


def max_prob_difference(a, b) -> float:
    def probs(path):
        with open(path, newline='') as f:
            return [float(r['prob_tb']) for r in csv.DictReader(f) if r['prob_tb']]
    return max((abs(x - y) for x, y in zip(probs(a), probs(b))), default=0.0)


def main(argv=None) -> int:
    args = parse_args(argv)
    env = dict(os.environ, PYTHONPATH=f'{REPO}:{os.environ.get("PYTHONPATH", "")}')
    one_thread = dict(env, OMP_NUM_THREADS='1')
    times: dict = {'screen.py': [], 'screen.py OMP_NUM_THREADS=1': []}
    times.update({f'dist_screen.sh x{n}': [] for n in args.nproc})
    n_images, max_dp = None, {}
    with tempfile.TemporaryDirectory() as tmp:
        single, single1 = Path(tmp) / 'single.csv', Path(tmp) / 'single_1thread.csv'
        for _ in range(args.rounds):
            for name, out, run_env in (('screen.py', single, env),
                                       ('screen.py OMP_NUM_THREADS=1', single1, one_thread)):
                times[name].append(timed([sys.executable, 'tools/screen.py', args.folder,
                                          '--out', str(out), *args.screen_options], run_env))
            n_images = sum(1 for _ in open(single)) - 1
            for nproc in args.nproc:
                merged = Path(tmp) / f'dist{nproc}.csv'
                name = f'dist_screen.sh x{nproc}'
                times[name].append(timed(
                    ['bash', 'tools/dist_screen.sh', args.folder, str(nproc), '--out',
                     str(merged), *args.screen_options], one_thread if nproc > 1 else env))
                reference = single1 if nproc > 1 else single
                if merged.read_bytes() != reference.read_bytes():
                    raise RuntimeError(f'{name} wrote a different CSV from {reference.name}')
                max_dp[name] = max_prob_difference(merged, single)
    runs = {name: dict(wall_s=[round(t, 2) for t in ts], median_wall_s=round(
        statistics.median(ts), 2), images_per_s=round(n_images / statistics.median(ts), 1))
        for name, ts in times.items()}
    base = runs['screen.py']['median_wall_s']
    for run in runs.values():
        run['speedup_vs_screen_py'] = round(base / run['median_wall_s'], 2)
    result = dict(
        folder=str(args.folder), images=n_images, screen_options=args.screen_options,
        rounds=args.rounds, cpu_count=os.cpu_count(), processor=platform.processor(),
        load_average_at_end=[round(x, 2) for x in os.getloadavg()],
        note=('wall time from start to exit, model loading included; with more than one '
              'process each rank runs with OMP_NUM_THREADS=1 (as torchrun sets it), otherwise '
              'torch picks the threads; other jobs may share the CPUs: compare within this '
              'file'),
        csv_identical_to=dict({f'dist_screen.sh x{n}': 'screen.py' if n == 1 else
                               'screen.py OMP_NUM_THREADS=1' for n in args.nproc}),
        max_abs_dprob_vs_screen_py=max_dp, runs=runs)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
