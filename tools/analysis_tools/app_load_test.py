"""Load test of the clinician app: concurrent browser users upload and screen X-rays.

    python tools/analysis_tools/app_load_test.py --users 8 --images 5 \
        --out docs/benchmarks/app_load.json [-- --checkpoint PATH]

Starts the app as ``mmtb-app`` does (``python -m mmtb.cli.app``) on a free 127.0.0.1 port
(nothing else is contacted), opens one Playwright browser context per user (Debian chromium,
as the browser tests), and lets every user upload and screen ``--images`` generated X-rays at
the same time.
Records each time from pressing "Screen for TB" to the result, whether every user got a result
without an error, and the server's peak resident memory (/proc VmHWM of the one server
process, where the model is loaded once for all users). Bounded: a fixed number of requests
and ``--timeout`` seconds in all.
"""
import argparse
import io
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mmtb.app.server import free_port, wait_until_healthy

REPO = Path(__file__).resolve().parents[2]
PRESS_SCREEN = 'Press "Screen for TB" to score this image.'
CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Concurrent-user load test of the app.')
    parser.add_argument('--users', type=int, default=8)
    parser.add_argument('--images', type=int, default=5, help='X-rays each user screens')
    parser.add_argument('--size', type=int, default=512, help='side of the generated X-rays')
    parser.add_argument('--timeout', type=float, default=900, help='seconds for the whole test')
    parser.add_argument('--out', default='docs/benchmarks/app_load.json')
    parser.add_argument('--machine-note', help='recorded with the results, e.g. what else ran')
    parser.add_argument('app_args', nargs='*', help='after --: arguments for the app')
    return parser.parse_args(argv)


def xray_png(seed: int, size: int) -> bytes:
    """A generated chest-like image (dark lungs in a brighter body), never a real X-ray."""
    import cv2
    rng = np.random.default_rng(seed)
    img = np.full((size, size), 150, np.float32)
    for cx in (0.32, 0.68):
        cv2.ellipse(img, (int(cx * size), size // 2), (size // 6, size // 3), 0, 0, 360, 60, -1)
    img += rng.normal(0, 12, img.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, 'PNG')
    return buf.getvalue()






def peak_rss_mib(pid: int):
    """The process's peak resident memory (VmHWM in /proc, Linux); the app is one process."""
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('VmHWM:'):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def one_user(browser, url, user, args, deadline, results):
    """Upload and screen ``args.images`` X-rays; append (user, seconds or error) per image."""
    context = browser.new_context(viewport=dict(width=1200, height=1250))
    try:
        page = context.new_page()
        page.goto(url, wait_until='domcontentloaded')
        stage, i = 'open', None
        for i in range(args.images):
            left_ms = max(1_000, (deadline - time.monotonic()) * 1000)
            name = f'user{user}_xray{i}.png'
            stage = 'upload'
            page.locator('.st-key-upload input[type=file]').set_input_files(
                dict(name=name, mimeType='image/png', buffer=xray_png(user * 100 + i, args.size)),
                timeout=left_ms)
            stage = 'upload screened by the app'
            page.get_by_text(f'{name}', exact=False).first.wait_for(timeout=left_ms)
            # the file name shows while the browser still sends the file: a click before the
            # app has rerun with it would screen the previous image (whose result then gives
            # way to the new one unscreened); the app asks for the click once it has the file
            page.get_by_text(PRESS_SCREEN).first.wait_for(timeout=left_ms)
            stage = 'Screen button'
            button = page.get_by_role('button', name='Screen for TB')
            button.wait_for(timeout=left_ms)
            start = time.monotonic()
            button.click(timeout=left_ms)
            stage = 'result'
            page.get_by_text(f'{name} · screened').first.wait_for(timeout=left_ms)
            results.append(dict(user=user, image=i, seconds=time.monotonic() - start,
                                error=page.locator('[data-testid="stException"]').count() > 0))
    except Exception as e:  # noqa: BLE001 - a failed user is a result of the test
        results.append(dict(user=user, image=i, seconds=None, stage=stage,
                            error=f'{type(e).__name__}: {str(e).splitlines()[0][:200]}'))
    finally:
        context.close()


def main(argv=None) -> int:
    args = parse_args(argv)
    from playwright.sync_api import sync_playwright
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    env = {k: v for k, v in os.environ.items() if not k.startswith('MMTB_')}
    env.update(PYTHONPATH=str(REPO))
    started = time.monotonic()
    proc = subprocess.Popen(  # mmtb-app: headless, and the model warmed up while it starts
        [sys.executable, '-m', 'mmtb.cli.app', '--server.port', str(port),
         '--server.address', '127.0.0.1', '--server.fileWatcherType', 'none',
         '--', *args.app_args],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    try:
        wait_until_healthy(url, proc, timeout=120)
        deadline = started + args.timeout
        # Playwright's sync API is per thread: each user gets its own driver and browser
        def run_user(user):
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    one_user(browser, url, user, args, deadline, results)
                finally:
                    browser.close()
        threads = [threading.Thread(target=run_user, args=(u, )) for u in range(args.users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1, deadline - time.monotonic()))
    finally:
        peak = peak_rss_mib(proc.pid)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    times = sorted(r['seconds'] for r in results if r['seconds'] is not None)
    ok = [r for r in results if r['seconds'] is not None and not r['error']]
    summary = dict(
        users=args.users, images_per_user=args.images, image_size=args.size,
        app_args=args.app_args, results=len(times), expected=args.users * args.images,
        all_ok=len(ok) == args.users * args.images,
        errors=[r for r in results if r['error']],
        seconds_to_result_p50=float(np.percentile(times, 50)) if times else None,
        seconds_to_result_p95=float(np.percentile(times, 95)) if times else None,
        seconds_to_result_max=max(times) if times else None,
        server_peak_rss_mib=peak,
        wall_seconds=round(time.monotonic() - started, 1),
        machine=dict(cpus=os.cpu_count(), platform=platform.platform(),
                     note=args.machine_note),
        per_request=results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + '\n')
    print(json.dumps({k: v for k, v in summary.items() if k != 'per_request'}, indent=2))
    return 0 if summary['all_ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
