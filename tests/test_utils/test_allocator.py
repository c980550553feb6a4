"""Training restarts itself with tcmalloc/jemalloc when one is installed, and only then."""
import os
import subprocess
import sys

import pytest

from mmtb.utils import allocator
from mmtb.utils.allocator import ENV_VAR, allocator_env, find_allocator


@pytest.fixture
def libdir(tmp_path):
    (tmp_path / 'libjemalloc.so.2').write_bytes(b'')
    (tmp_path / 'libtcmalloc_minimal.so.4').write_bytes(b'')
    return tmp_path


def test_auto_prefers_tcmalloc_and_system_keeps_glibc(libdir):
    assert find_allocator(None, [str(libdir)]) == str(libdir / 'libtcmalloc_minimal.so.4')
    assert find_allocator('auto', [str(libdir)]).endswith('libtcmalloc_minimal.so.4')
    assert find_allocator('system', [str(libdir)]) is None
    assert find_allocator(None, [str(libdir / 'empty')]) is None  # nothing installed: glibc


def test_an_explicit_library_must_exist(libdir):
    assert find_allocator(str(libdir / 'libjemalloc.so.2')) == str(libdir / 'libjemalloc.so.2')
    with pytest.raises(FileNotFoundError, match=ENV_VAR):
        find_allocator(str(libdir / 'libnothing.so'))


def test_the_restart_environment_preloads_once_and_keeps_the_rest(libdir):
    env = allocator_env({'PATH': '/bin', 'LD_PRELOAD': '/x/other.so'}, [str(libdir)])
    tcmalloc = str(libdir / 'libtcmalloc_minimal.so.4')
    assert env['LD_PRELOAD'] == f'{tcmalloc} /x/other.so' and env['PATH'] == '/bin'
    assert allocator_env(env, [str(libdir)]) is None  # already preloaded: no second restart
    assert allocator_env({ENV_VAR: 'system'}, [str(libdir)]) is None
    assert allocator_env({}, [str(libdir / 'empty')]) is None


def test_jemalloc_gets_settings_that_keep_freed_memory(libdir):
    env = allocator_env({ENV_VAR: str(libdir / 'libjemalloc.so.2')}, [str(libdir)])
    assert 'dirty_decay_ms:-1' in env['MALLOC_CONF']
    mine = allocator_env({ENV_VAR: str(libdir / 'libjemalloc.so.2'), 'MALLOC_CONF': 'x'})
    assert mine['MALLOC_CONF'] == 'x'  # the user's own settings win


def test_restart_replaces_the_process_with_the_same_command_line(monkeypatch, libdir):
    calls = []
    monkeypatch.setattr(allocator, 'SEARCH_DIRS', (str(libdir), ))
    monkeypatch.setattr(allocator, 'allocator_env',
                        lambda env: {'LD_PRELOAD': 'lib.so'} if 'LD_PRELOAD' not in env else None)
    monkeypatch.setattr(allocator.os, 'execve', lambda *args: calls.append(args))
    monkeypatch.setattr(allocator.os, 'environ', {})
    monkeypatch.setattr(sys, 'orig_argv', ['python3', '-m', 'mmtb.apis.train', 'cfg.py'])
    allocator.restart_with_allocator()
    assert calls == [(sys.executable, [sys.executable, '-m', 'mmtb.apis.train', 'cfg.py'],
                      {'LD_PRELOAD': 'lib.so'})]


def test_train_help_runs_with_the_system_allocator_unchanged():
    """MMTB_ALLOCATOR=system: no restart, the command line works as before."""
    out = subprocess.run([sys.executable, 'tools/train.py', '--help'], capture_output=True,
                         text=True, env={**os.environ, ENV_VAR: 'system'})
    assert out.returncode == 0 and 'restarting' not in out.stderr


@pytest.mark.skipif(find_allocator() is None, reason='no tcmalloc/jemalloc on this machine')
def test_a_real_restart_runs_the_program_again_with_the_library_loaded():
    code = ('from mmtb.utils.allocator import restart_with_allocator as restart; restart(); '
            'print(open("/proc/self/maps").read().count("malloc"))')
    env = {key: value for key, value in os.environ.items() if key not in ('LD_PRELOAD', ENV_VAR)}
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert 'restarting with' in out.stderr and int(out.stdout) > 0
