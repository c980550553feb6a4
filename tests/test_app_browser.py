"""End to end: the real `streamlit run` server, driven by a headless Chromium through Playwright.

AppTest (tests/test_streamlit_app.py) cannot catch what only a browser shows: the file input,
the websocket round trip, the page actually rendering the result. This test uploads a
generated X-ray through the page's <input type=file>, presses "Screen for TB" and waits for
the TB probability. The server listens on 127.0.0.1 only. Needs Debian's chromium and the
`playwright` Python package (tools/ci_browser_setup.sh installs both); skipped without them.

Set MMTB_SAVE_APP_SCREENSHOT=1 to refresh docs/images/app.png from this run.
"""
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from conftest import REPO, synthetic_xray
from PIL import Image

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
DOCS_SCREENSHOT = REPO / 'docs' / 'images' / 'app.png'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f'streamlit exited early:\n{proc.stdout.read()[-3000:]}')
        try:
            with urllib.request.urlopen(f'{url}/_stcore/health', timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f'streamlit did not answer on {url} within {timeout} s')


def xray_png() -> bytes:
    grey, _ = synthetic_xray(np.random.default_rng(7), 256, lesion=True)
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, 'PNG')
    return buf.getvalue()


def test_upload_and_screen_in_a_real_browser(tiny_checkpoint, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f'{CHROMIUM} not installed (run tools/ci_browser_setup.sh)')
    sync_api = pytest.importorskip(
        'playwright.sync_api', reason='playwright not installed (run tools/ci_browser_setup.sh)')
    config, checkpoint, _ = tiny_checkpoint
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    env = {k: v for k, v in os.environ.items() if not k.startswith('MMTB_')}
    env.update(OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, '-m', 'streamlit', 'run', 'demo/streamlit_app.py',
         '--server.headless', 'true', '--server.port', str(port),
         '--server.address', '127.0.0.1', '--server.fileWatcherType', 'none',
         '--browser.gatherUsageStats', 'false', '--client.toolbarMode', 'viewer',
         '--', '--checkpoint', str(checkpoint), '--config', str(config),
         '--work-dirs', str(tmp_path / 'no_work_dirs')],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_healthy(url, proc)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport=dict(width=1200, height=1250))
                page.goto(url, wait_until='domcontentloaded')
                page.locator('.st-key-upload input[type=file]').set_input_files(
                    dict(name='synthetic_chest.png', mimeType='image/png', buffer=xray_png()),
                    timeout=60_000)
                page.get_by_role('button', name='Screen for TB').click(timeout=60_000)
                result = page.get_by_text('TB probability:', exact=False).first
                result.wait_for(state='visible', timeout=60_000)
                page.get_by_text('Grad-CAM: regions').first.wait_for(timeout=30_000)
                page.wait_for_timeout(500)  # let images finish painting before the screenshot
                shot = tmp_path / 'app.png'
                page.screenshot(path=str(shot))  # Streamlit scrolls inside the page: no full_page
                assert result.is_visible()
                assert '%' in result.inner_text()
                assert page.get_by_text('not a diagnosis').first.is_visible()
                assert shot.stat().st_size > 10_000
                if os.environ.get('MMTB_SAVE_APP_SCREENSHOT') == '1':
                    DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                    # 256 colours: the noisy synthetic image would make a large PNG
                    Image.open(shot).convert('RGB').quantize(256).save(DOCS_SCREENSHOT,
                                                                      optimize=True)
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

