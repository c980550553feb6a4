"""A non-editable ``pip install .`` works from any directory: the wheel ships the default
model, the model-card template and the app's page, and its commands screen with them."""
import csv
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import numpy as np
import pytest
from conftest import REPO, synthetic_xray
from PIL import Image

from mmtb.app.server import free_port


def run(*command, **kwargs):
    return subprocess.run([str(c) for c in command], capture_output=True, text=True,
                          timeout=600, **kwargs)




@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """A fresh venv holding only the wheel (torch & co. come from this machine), and an
    environment that points nowhere into the repository."""
    root = tmp_path_factory.mktemp('packaging')
    built = run(sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                REPO, '-w', root / 'wheels', cwd=root)
    assert built.returncode == 0, built.stderr[-3000:]
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'MMTB_DEFAULT_MODEL', 'MMTB_CHECKPOINT', 'MMTB_CONFIG',
                        'MMTB_THRESHOLD', 'MMTB_WORK_DIRS')}
    env['OMP_NUM_THREADS'] = '1'
    venv = root / 'venv'
    assert run(sys.executable, '-m', 'venv', '--system-site-packages', venv).returncode == 0
    wheel = next((root / 'wheels').glob('mmtb-*.whl'))
    # --force-reinstall: the machine's own (editable) mmtb must not count as installed
    done = run(venv / 'bin' / 'python', '-m', 'pip', 'install', '--no-deps', '--no-index',
               '--force-reinstall', wheel, cwd=root, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    elsewhere = root / 'elsewhere'  # not the repository: nothing relative to it resolves
    elsewhere.mkdir()
    grey, _ = synthetic_xray(np.random.default_rng(3), 256, lesion=True)
    Image.fromarray(grey).save(elsewhere / 'chest.png')
    return venv / 'bin', elsewhere, env


@pytest.mark.slow
def test_the_wheel_ships_the_default_model_and_imports_from_the_venv(installed):
    bin_dir, elsewhere, env = installed
    probe = run(bin_dir / 'python', '-c', textwrap.dedent('''
        import json, mmtb
        from mmtb.apis import default_model_dir
        from mmtb.apis.model_card import render_card  # its template is package data
        print(json.dumps([mmtb.__file__, str(default_model_dir())]))'''),
                cwd=elsewhere, env=env)
    assert probe.returncode == 0, probe.stderr[-3000:]
    module, model_dir = json.loads(probe.stdout.strip().splitlines()[-1])
    venv = str(bin_dir.parent)
    assert module.startswith(venv) and model_dir.startswith(venv), (module, model_dir)
    assert model_dir.endswith('mmtb/.mim/checkpoints/default')


@pytest.mark.slow
def test_mmtb_screen_and_mmtb_demo_answer_alike_on_the_shipped_default(installed):
    bin_dir, elsewhere, env = installed
    screened = run(bin_dir / 'mmtb-screen', 'chest.png', '--out', 'results.csv',
                   cwd=elsewhere, env=env)
    assert screened.returncode == 0, screened.stderr[-3000:]
    with open(elsewhere / 'results.csv', newline='') as f:
        (row,) = list(csv.DictReader(f))
    assert row['error'] == '' and row['decision'] in ('tuberculosis', 'normal')
    demo = run(bin_dir / 'mmtb-demo', 'chest.png', '--out', 'cam.png', cwd=elsewhere, env=env)
    assert demo.returncode == 0, demo.stderr[-3000:]
    result = json.loads(demo.stdout)
    assert result['model'] == 'default' and (elsewhere / 'cam.png').is_file()
    assert result['threshold_source'].endswith('operating_point.json')
    assert result['prob_tb'] == pytest.approx(float(row['prob_tb']), abs=1e-4)


@pytest.mark.slow
def test_mmtb_app_starts_the_shipped_page_headless(installed):
    bin_dir, elsewhere, env = installed
    helped = run(bin_dir / 'mmtb-app', '--help', cwd=elsewhere, env=env)
    assert helped.returncode == 0 and 'usage: mmtb-app' in helped.stdout
    port = free_port()
    proc = subprocess.Popen(  # headless, no usage statistics, viewer toolbar: its defaults
        [str(bin_dir / 'mmtb-app'), '--server.port', str(port), '--server.address', '127.0.0.1'],
        cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, ''.join(lines)[-3000:]
            try:
                with urllib.request.urlopen(f'{url}/_stcore/health', timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, 'mmtb-app did not answer'
                time.sleep(0.5)
        # the model is loaded and warmed up at start, before anyone opens the page
        while not any('mmtb-app: model ready (default' in line for line in lines):
            assert proc.poll() is None and time.monotonic() < deadline + 120, ''.join(lines)
            time.sleep(0.5)
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and '<div id="root">' in r.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # the page itself, run from the installed package with its shipped default model
    page = run(bin_dir / 'python', '-c', textwrap.dedent('''
        import importlib.util
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file(importlib.util.find_spec('mmtb.app.streamlit_app').origin,
                               default_timeout=240).run()
        assert not at.exception, at.exception
        print(at.title[0].value, '|', at.sidebar.selectbox[0].value)'''),
               cwd=elsewhere, env=env)
    assert page.returncode == 0, page.stderr[-3000:]
    assert 'TB screening on chest X-rays | default' in page.stdout
