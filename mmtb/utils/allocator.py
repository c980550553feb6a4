"""Training on CPUs with a memory allocator that keeps freed memory (tcmalloc or jemalloc).

glibc hands every large block back to the operating system when it is freed, and a training
step frees and re-allocates tens of MB of activations each time, so every step pays page faults
to get its memory back, several times the cost of refilling memory it already has. tcmalloc
and jemalloc keep the memory (measured in docs/benchmarks.md "Training").

An allocator has to be loaded before the process starts (``LD_PRELOAD``), so the training entry
points start themselves again with it (:func:`restart_with_allocator`). ``MMTB_ALLOCATOR``
chooses: unset or ``auto`` (the first library of ``LIBRARIES`` found), ``system`` (glibc, no
restart), or the path of a library. Nothing is installed by mmtb: on Debian/Ubuntu
``apt-get install libtcmalloc-minimal4`` (or ``libjemalloc2``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Optional, Sequence

__all__ = ['ENV_VAR', 'LIBRARIES', 'allocator_env', 'find_allocator', 'restart_with_allocator']

ENV_VAR = 'MMTB_ALLOCATOR'
LIBRARIES = ('libtcmalloc_minimal.so.4', 'libtcmalloc.so.4', 'libjemalloc.so.2')
SEARCH_DIRS = ('/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64',
               '/usr/lib', '/usr/local/lib')
# jemalloc's defaults give memory back after 10 s of disuse, which a training loop never has;
# keep it (the settings Intel's PyTorch tuning guide gives)
JEMALLOC_CONF = ('oversize_threshold:1,background_thread:true,metadata_thp:auto,'
                 'dirty_decay_ms:-1,muzzy_decay_ms:-1')


def find_allocator(choice: Optional[str] = None,
                   search_dirs: Sequence[str] = SEARCH_DIRS) -> Optional[str]:
    """The allocator library to preload for ``choice`` (``MMTB_ALLOCATOR``), or None for glibc.

    An explicit path that does not exist is an error: the user asked for it.
    """
    choice = (choice or 'auto').strip()
    if choice == 'system':
        return None
    if choice != 'auto':
        if not Path(choice).is_file():
            raise FileNotFoundError(f'{ENV_VAR}={choice}: no such library')
        return choice
    for name in LIBRARIES:
        for folder in search_dirs:
            path = Path(folder) / name
            if path.is_file():
                return str(path)
    return None


def allocator_env(env: Mapping[str, str],
                  search_dirs: Sequence[str] = SEARCH_DIRS) -> Optional[dict]:
    """The environment to restart with, or None when there is nothing to do (the allocator is
    already preloaded, ``system`` was chosen, or no library is installed)."""
    library = find_allocator(env.get(ENV_VAR), search_dirs)
    preloaded = env.get('LD_PRELOAD', '').split()
    if library is None or library in preloaded:
        return None
    new = dict(env)
    new['LD_PRELOAD'] = ' '.join([library, *preloaded])
    if 'jemalloc' in Path(library).name:
        new.setdefault('MALLOC_CONF', JEMALLOC_CONF)
    return new


def restart_with_allocator() -> None:
    """Start this process's command line again with the allocator preloaded (no return), or do
    nothing. Call it first thing in a ``__main__`` block: it replaces the running program."""
    env = allocator_env(os.environ)
    if env is None:
        return
    print(f'mmtb: restarting with {env["LD_PRELOAD"].split()[0]} preloaded (faster training '
          f'on CPUs; {ENV_VAR}=system switches this off)', file=sys.stderr, flush=True)
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
