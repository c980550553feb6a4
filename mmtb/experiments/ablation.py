"""Run configs one after another: train (or skip / resume), test internally and externally.

Each training and test is a subprocess running the library's entry points
(``python -m mmtb.apis.train`` / ``mmtb.apis.test``, the command lines of ``tools/train.py`` /
``tools/test.py``), so a crash in one run is recorded and the grid goes on; the work dir tells
what is already done, so running the grid again skips finished runs and resumes an
interrupted one. Logs and metrics of every run are
copied into a results folder that is committed beside the table it produces.

The operating threshold (90 % sensitivity) that external sets are scored at is chosen on the
internal test split (``threshold_split='test'``, the paper-style protocol) or on the training
data's validation split (``'val'``, from ``prepare_tbcxr.py --val-ratio``), in which case no
number reported on a test set has influenced the threshold it is scored at.
"""
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from mmtb.utils.config import input_size_of, load_config, run_name

THRESHOLD_SPLITS = ('test', 'val')


def external_set(spec: str) -> tuple:
    """``NAME=DATA_ROOT`` -> (name, root), an argparse ``type`` (ValueError: a usage error);
    'internal' and 'val' are taken by the runner's own results."""
    name, sep, root = spec.partition('=')
    if not (sep and name and root) or name in ('internal', 'val'):
        raise ValueError(spec)
    return name, root
VAL_ANN_FILE = 'meta/val.json'
# the test's Runner dumps its config (data root and ann_file overrides included) into its
# work dir; testing in a sub-folder keeps the trained config, which every later evaluation and
# val_data_root() read, from being overwritten by the last test's settings.
EVAL_SUBDIR = 'test'


@dataclass
class AblationRun:
    """One config at one input size and seed, and what became of it."""
    config: str
    img_size: Optional[int] = None
    seed: Optional[int] = None
    work_root: str = 'work_dirs'
    threshold_split: str = 'test'  # where the operating threshold is chosen (THRESHOLD_SPLITS)
    status: str = 'pending'
    metrics: Dict[str, dict] = field(default_factory=dict)

    @property
    def name(self) -> str:
        name = run_name(self.config, self.img_size)
        return name if self.seed is None else f'{name}_seed{self.seed}'

    @property
    def work_dir(self) -> Path:
        return Path(self.work_root) / self.name

    @property
    def trained_config(self) -> str:
        """The config as trained (mmengine saves it, options applied, into the work dir)."""
        saved = self.work_dir / Path(self.config).name
        return str(saved if saved.is_file() else self.config)

    def max_epochs(self) -> int:
        return int(load_config(self.trained_config).train_cfg.max_epochs)

    def final_checkpoint(self) -> Path:
        return self.work_dir / f'epoch_{self.max_epochs()}.pth'

    def val_data_root(self) -> str:
        """The data root the run validated on (its training data), as trained."""
        return str(load_config(self.trained_config).val_dataloader.dataset.data_root)

    def common_args(self, work_dir: Optional[Path] = None) -> List[str]:
        args = ['--work-dir', str(work_dir or self.work_dir)]
        if self.img_size:
            args += ['--img-size', str(self.img_size)]
        return args


def _run_entry_point(module: str, args: List[str], log: Path) -> int:
    """Run ``python -m <module>`` (an mmtb entry point) as its own process from the working
    directory, appending its output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, 'a') as out:
        return subprocess.call([sys.executable, '-m', module, *args],
                               stdout=out, stderr=subprocess.STDOUT)


def train(run: AblationRun, extra_args: List[str]) -> bool:
    """Train unless the final checkpoint exists; resume when an earlier one does."""
    try:
        if run.final_checkpoint().is_file():
            return True
    except Exception as error:  # a config that does not even load is a failed run
        print(f'   cannot read {run.config}: {error}', flush=True)
        return False
    args = run.common_args() + list(extra_args)
    if (run.work_dir / 'last_checkpoint').is_file():
        args.append('--resume')
    if run.seed is not None:
        args += ['--cfg-options', f'randomness.seed={run.seed}']
    rc = _run_entry_point('mmtb.apis.train', [run.config, *args],
                          run.work_dir / 'ablation_train.log')
    return rc == 0 and run.final_checkpoint().is_file()


def evaluate(run: AblationRun, name: str, data_root: Optional[str] = None,
             operating_threshold: Optional[float] = None,
             ann_file: Optional[str] = None) -> Optional[dict]:
    """Test the final checkpoint on the internal split or an external ``data_root``."""
    out = run.work_dir / f'test_{name}.json'
    args = [run.trained_config, str(run.final_checkpoint()),
            *run.common_args(run.work_dir / EVAL_SUBDIR), '--out', str(out),
            '--scores', str(run.work_dir / f'scores_{name}.csv')]
    if data_root:
        args += ['--data-root', data_root]
    if operating_threshold is not None:
        args += ['--operating-threshold', repr(operating_threshold)]
    if ann_file:
        args += ['--cfg-options', f'test_dataloader.dataset.ann_file={ann_file}']
    rc = _run_entry_point('mmtb.apis.test', args, run.work_dir / 'ablation_test.log')
    if rc != 0 or not out.is_file():
        return None
    return json.loads(out.read_text())['metrics']


def config_that_ran(run: AblationRun) -> str:
    """The config a results record names: the size leaf beside ``run.config`` when the run
    was asked for with ``--img-size`` and such a leaf exists (e.g. ``..._tbcxr-224px.py``)."""
    leaf = Path(run.config).with_name(run_name(run.config, run.img_size) + '.py')
    return str(leaf) if run.img_size and leaf != Path(run.config) and leaf.is_file() \
        else run.config


def _own_size(config: str) -> Optional[int]:
    try:
        return input_size_of(load_config(config))
    except Exception:  # a config that does not load is recorded as a failed run anyway
        return None


def collect(run: AblationRun, results_dir: Path, train_args: List[str] = ()) -> None:
    """Copy the run's logs, scalars and metrics into the committed results folder.

    ``train_args`` (e.g. ``--amp``) are recorded so the table says how each run was trained.
    """
    dest = results_dir / run.name
    dest.mkdir(parents=True, exist_ok=True)
    for log in sorted(run.work_dir.glob('2*/2*.log')):
        shutil.copy(log, dest / f'train_{log.name}')
    for log in sorted(run.work_dir.glob(f'{EVAL_SUBDIR}/2*/2*.log')):
        shutil.copy(log, dest / f'test_{log.name}')
    for scores in sorted(run.work_dir.glob('scores_*.csv')):  # per-image P(TB), no pixels
        shutil.copy(scores, dest / scores.name)
    for scalars in sorted(run.work_dir.glob('2*/vis_data/scalars.json')):
        shutil.copy(scalars, dest / f'scalars_{scalars.parent.parent.name}.json')
    (dest / 'metrics.json').write_text(json.dumps(
        dict(config=config_that_ran(run), img_size=run.img_size or _own_size(run.config),
             seed=run.seed, status=run.status,
             threshold_split=run.threshold_split, train_args=list(train_args),
             metrics=run.metrics), indent=2))


def evaluate_validation(run: AblationRun) -> Optional[dict]:
    """Score the final checkpoint on ``meta/val.json`` of the root the run validated on.

    Recorded as ``val``; its 90 %-sensitivity threshold is then the operating threshold.
    Returns None (and sets the run's status) when that split is missing or the test fails.
    """
    root = run.val_data_root()
    if not (Path(root) / VAL_ANN_FILE).is_file():
        run.status = (f'failed: no {VAL_ANN_FILE} in {root} '
                      '(convert it with prepare_tbcxr.py --val-ratio)')
        return None
    val = evaluate(run, 'val', data_root=root, ann_file=VAL_ANN_FILE)
    if val is None:
        run.status = 'failed: val test (see ablation_test.log)'
    return val


def evaluate_run(run: AblationRun, externals: Dict[str, str]) -> None:
    """Test a trained run: choose the threshold, then score internal and external sets."""
    threshold = None
    if run.threshold_split == 'val':
        val = evaluate_validation(run)
        if val is None:
            return
        run.metrics['val'] = val
        threshold = val.get('screening/thr_sens90')
    internal = evaluate(run, 'internal', operating_threshold=threshold)
    if internal is None:
        run.status = 'failed: internal test (see ablation_test.log)'
        return
    run.metrics['internal'] = internal
    run.status = 'ok'
    if run.threshold_split == 'test':
        threshold = internal.get('screening/thr_sens90')
    for name, root in externals.items():
        ext = evaluate(run, name, root, operating_threshold=threshold)
        if ext is None:
            run.status = f'failed: external test {name}'
        else:
            run.metrics[name] = ext


def run_grid(runs: List[AblationRun], results_dir: Path, externals: Dict[str, str],
             train_args: List[str] = ()) -> List[AblationRun]:
    """Train and evaluate every run in order; failures are recorded, never fatal."""
    for run in runs:
        print(f'== {run.name}', flush=True)
        if run.threshold_split not in THRESHOLD_SPLITS:
            raise ValueError(f'threshold_split must be one of {THRESHOLD_SPLITS}, '
                             f'got {run.threshold_split!r}')
        if not train(run, train_args):
            run.status = 'failed: training (see ablation_train.log)'
        else:
            evaluate_run(run, externals)
        print(f'   {run.status}', flush=True)
        collect(run, results_dir, train_args)
    return runs
