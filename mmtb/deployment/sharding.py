"""Screening one file list on several processes (``tools/dist_screen.sh``, torchrun + gloo):
which process screens which file, and one merged CSV, row for row the CSV that a single
``tools/screen.py`` run writes.

The assignment is a pure function of the (sorted) list that ``tools/screen.py``'s ``collect``
builds, so every rank, on every node, computes the same one without talking to the others.
Files that share a folder and a stem (``x.png`` and ``x.dcm``) go to the same shard: their
Grad-CAM overlays are numbered against each other (``x_cam.png``, ``x_cam2.png``), as in one
process. Each rank writes ``<out>.shards/shard-K-of-N.csv.part`` and renames it only once all
its rows are written, so a shard that crashed is missing, never silently short: rank 0 merges
only complete shards, and after a failed run ``python -m mmtb.deployment.sharding report``
names the shards that did not finish.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Optional, Sequence

__all__ = ['ShardError', 'ShardRun', 'merge_shards', 'shard_assignment', 'shard_csv',
           'shard_dir_of', 'shard_report']

# a rank that finished waits for the slowest one at the final barrier; a crashed rank makes
# torchrun stop the others long before this
BARRIER_TIMEOUT = timedelta(hours=24)


class ShardError(RuntimeError):
    """A shard is missing or incomplete; the message names it."""


def shard_assignment(files: Sequence[tuple[Path, Path]], world: int,
                     batch_size: int = 1) -> list[int]:
    """The shard of each ``(file, relative path)``: groups of one folder + stem, in order of
    first appearance, dealt out round-robin in blocks of ``batch_size`` groups (balanced to
    one block). Blocks of the screening batch size make each rank's batches the very batches
    one process would form, so the merged P(TB) match the single-process CSV to the last
    digit (oneDNN's results depend on which images share a batch)."""
    groups: dict = {}
    return [groups.setdefault((str(rel.parent), rel.stem), len(groups)) // batch_size % world
            for _, rel in files]


def shard_dir_of(out) -> Path:
    """Where the shards of ``out`` are written (on a shared filesystem for several nodes)."""
    out = Path(out)
    return out.with_name(out.name + '.shards')


def shard_csv(shard_dir, rank: int, world: int) -> Path:
    return Path(shard_dir) / f'shard-{rank:03d}-of-{world:03d}.csv'


def _plan_path(shard_dir, rank: int, world: int) -> Path:
    return shard_csv(shard_dir, rank, world).with_suffix('.json')


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline='') as f:
        reader = csv.reader(f)
        header = next(reader, [])
        return header, list(reader)


def shard_report(shard_dir, world: int) -> list[str]:
    """One line per shard that is missing or incomplete (empty when all are complete)."""
    problems = []
    for rank in range(world):
        path, plan = shard_csv(shard_dir, rank, world), _plan_path(shard_dir, rank, world)
        size = json.loads(plan.read_text())['files'] if plan.is_file() else None
        of_size = f' of its {size} images' if size is not None else ''
        if not path.is_file():
            partial = path.with_suffix('.csv.part')
            if not partial.is_file():
                problems.append(f'shard {rank} of {world} did not start (no rows written)')
            else:
                done = len(_rows(partial)[1])
                problems.append(f'shard {rank} of {world} did not finish: {done}{of_size} '
                                f'written before it stopped ({partial})')
        elif size is not None and len(_rows(path)[1]) != size:
            problems.append(f'shard {rank} of {world} has {len(_rows(path)[1])} rows{of_size}')
    return problems


def merge_shards(assignment: Sequence[int], world: int, shard_dir, out) -> int:
    """Write the shards' rows to ``out`` in the single-process order; return the row count.

    Raises :class:`ShardError` naming every shard that is missing or incomplete.
    """
    problems = shard_report(shard_dir, world)
    shards = [] if problems else [_rows(shard_csv(shard_dir, r, world)) for r in range(world)]
    for rank, (_, rows) in enumerate(shards):
        size = sum(1 for s in assignment if s == rank)
        if len(rows) != size:
            problems.append(f'shard {rank} of {world} has {len(rows)} rows of its {size} images')
    if problems:
        raise ShardError('; '.join(problems))
    headers = {tuple(header) for header, _ in shards}
    if len(headers) != 1:
        raise ShardError(f'the shards have different columns: {sorted(headers)}')
    positions = [0] * world
    merged = []
    for rank in assignment:  # a shard's rows are in the order of the whole list
        merged.append(shards[rank][1][positions[rank]])
        positions[rank] += 1
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + '.part')
    with open(partial, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(list(headers.pop()))
        writer.writerows(merged)
    partial.replace(out)
    return len(merged)


class ShardRun:
    """This process's part of a torchrun screening: its files, where it writes them, and the
    merge (rank 0, once every rank has finished).

    ``start`` opens the gloo process group (RANK / WORLD_SIZE from torchrun), so that a
    misconfigured launch fails before any screening; ``finish`` publishes this shard, waits
    for all ranks and merges.
    """

    def __init__(self, out, files: Sequence[tuple[Path, Path]], rank: int, world: int,
                 batch_size: int = 1):
        if not 0 <= rank < world:
            raise ValueError(f'rank {rank} is not in [0, {world})')
        self.out, self.rank, self.world = Path(out), rank, world
        self.assignment = shard_assignment(files, world, batch_size)
        self.files = [f for f, s in zip(files, self.assignment) if s == rank]
        self.shard_dir = shard_dir_of(out)
        self.csv = shard_csv(self.shard_dir, rank, world)
        self.partial_csv = self.csv.with_suffix('.csv.part')

    @classmethod
    def start(cls, out, files: Sequence[tuple[Path, Path]], batch_size: int = 1) -> 'ShardRun':
        import torch.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group(backend='gloo', timeout=BARRIER_TIMEOUT)
        run = cls(out, files, dist.get_rank(), dist.get_world_size(), batch_size)
        run.shard_dir.mkdir(parents=True, exist_ok=True)
        for stale in (run.csv, run.partial_csv):
            stale.unlink(missing_ok=True)
        _plan_path(run.shard_dir, run.rank, run.world).write_text(
            json.dumps(dict(files=len(run.files))))
        return run

    def publish(self) -> None:
        """This shard is complete: its CSV gets its final name."""
        self.partial_csv.replace(self.csv)

    def merge(self) -> int:
        """Rank 0's part: merge all shards into ``out``, then remove them; returns the rows."""
        n_rows = merge_shards(self.assignment, self.world, self.shard_dir, self.out)
        shutil.rmtree(self.shard_dir)
        return n_rows

    def finish(self) -> int:
        """Publish, wait for every rank, merge on rank 0; the exit status of this rank."""
        import torch.distributed as dist
        self.publish()
        dist.barrier()
        status = 0
        if self.rank == 0:
            try:
                n_rows = self.merge()
                _, rows = _rows(self.out)
                screened = sum(1 for row in rows if row[1])  # prob_tb is empty on errors
                print(f'merged {self.world} shards: {n_rows} rows ({screened} screened) -> '
                      f'{self.out}', file=sys.stderr)
                if not screened:
                    print('error: none of the inputs could be read as an X-ray', file=sys.stderr)
                    status = 1
            except ShardError as e:
                print(f'error: {e}', file=sys.stderr)
                status = 1
        dist.barrier()  # no rank tears down gloo while rank 0 still uses it
        dist.destroy_process_group()
        return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``report OUT WORLD``: after a failed tools/dist_screen.sh, name the shards that did
    not finish (exit 1), or say that all did (exit 0)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument('command', choices=['report'])
    parser.add_argument('out', help='the --out CSV of the run')
    parser.add_argument('world', type=int, help='number of processes (NNODES x NPROC)')
    args = parser.parse_args(argv)
    shard_dir = shard_dir_of(args.out)
    problems = shard_report(shard_dir, args.world) if shard_dir.is_dir() else [
        f'no shards at {shard_dir}: no rank started screening']
    for line in problems:
        print(f'error: {line}', file=sys.stderr)
    if not problems:
        print(f'all {args.world} shards in {shard_dir} are complete', file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
