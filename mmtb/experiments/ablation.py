"""Run configs one after another: train (or skip / resume), test internally and externally.

Each run is a subprocess of ``tools/train.py`` / ``tools/test.py``, so a crash in one run is
recorded and the grid goes on; the work dir tells what is already done, so running the grid
again skips finished runs and resumes an interrupted one. Logs and metrics of every run are
copied into a results folder that is committed beside the table it produces.
"""
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from mmtb.utils.config import load_config, run_name

REPO = Path(__file__).resolve().parents[2]


@dataclass
class AblationRun:
    """One config at one input size and seed, and what became of it."""
    config: str
    img_size: Optional[int] = None
    seed: Optional[int] = None
    work_root: str = 'work_dirs'
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

    def common_args(self) -> List[str]:
        args = ['--work-dir', str(self.work_dir)]
        if self.img_size:
            args += ['--img-size', str(self.img_size)]
        return args


def _tool(script: str, args: List[str], log: Path) -> int:
    """Run a tools/ script as its own process, appending its output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, 'a') as out:
        return subprocess.call([sys.executable, str(REPO / 'tools' / script), *args],
                               stdout=out, stderr=subprocess.STDOUT, cwd=REPO)


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
    rc = _tool('train.py', [run.config, *args], run.work_dir / 'ablation_train.log')
    return rc == 0 and run.final_checkpoint().is_file()


def evaluate(run: AblationRun, name: str, data_root: Optional[str] = None,
             operating_threshold: Optional[float] = None) -> Optional[dict]:
    """Test the final checkpoint on the internal split or an external ``data_root``."""
    out = run.work_dir / f'test_{name}.json'
    args = [run.trained_config, str(run.final_checkpoint()), *run.common_args(), '--out', str(out)]
    if data_root:
        args += ['--data-root', data_root]
    if operating_threshold is not None:
        args += ['--operating-threshold', repr(operating_threshold)]
    rc = _tool('test.py', args, run.work_dir / 'ablation_test.log')
    if rc != 0 or not out.is_file():
        return None
    return json.loads(out.read_text())['metrics']


def collect(run: AblationRun, results_dir: Path) -> None:
    """Copy the run's logs, scalars and metrics into the committed results folder."""
    dest = results_dir / run.name
    dest.mkdir(parents=True, exist_ok=True)
    for log in sorted(run.work_dir.glob('2*/2*.log')):
        shutil.copy(log, dest / f'train_{log.name}')
    for scalars in sorted(run.work_dir.glob('2*/vis_data/scalars.json')):
        shutil.copy(scalars, dest / f'scalars_{scalars.parent.parent.name}.json')
    (dest / 'metrics.json').write_text(json.dumps(
        dict(config=run.config, img_size=run.img_size, seed=run.seed, status=run.status,
             metrics=run.metrics), indent=2))


def run_grid(runs: List[AblationRun], results_dir: Path, externals: Dict[str, str],
             train_args: List[str] = ()) -> List[AblationRun]:
    """Train and evaluate every run in order; failures are recorded, never fatal."""
    for run in runs:
        print(f'== {run.name}', flush=True)
        if not train(run, train_args):
            run.status = 'failed: training (see ablation_train.log)'
        else:
            internal = evaluate(run, 'internal')
            if internal is None:
                run.status = 'failed: internal test (see ablation_test.log)'
            else:
                run.metrics['internal'] = internal
                run.status = 'ok'
                threshold = internal.get('screening/thr_sens90')
                for name, root in externals.items():
                    ext = evaluate(run, name, root, operating_threshold=threshold)
                    if ext is None:
                        run.status = f'failed: external test {name}'
                    else:
                        run.metrics[name] = ext
        print(f'   {run.status}', flush=True)
        collect(run, results_dir)
    return runs
