"""End to end: the real `streamlit run` server, driven by a headless Chromium through Playwright.

AppTest (tests/test_streamlit_app.py) cannot catch what only a browser shows: the file input,
the websocket round trip, the crop box component, the page actually rendering the result, a
download. One server (127.0.0.1 only, the tiny test model) serves every test here; each test
gets a fresh browser context (a new user). Needs Debian's chromium and the `playwright` Python
package (tools/ci_browser_setup.sh installs both); skipped without them.

Set MMTB_SAVE_APP_SCREENSHOT=1 to refresh docs/images/app.png (desktop) and
docs/images/app_phone.png (390 x 844) from this run.
"""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, dicom_bytes, synthetic_xray
from PIL import Image

from mmtb.app.server import free_port, wait_until_healthy

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
DOCS_SCREENSHOT = REPO / 'docs' / 'images' / 'app.png'






def xray_png() -> bytes:
    grey, _ = synthetic_xray(np.random.default_rng(7), 256, lesion=True)
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, 'PNG')
    return buf.getvalue()


def colour_photo_png() -> bytes:
    blocks = np.random.default_rng(4).integers(0, 256, (4, 4, 3)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(blocks).resize((192, 192), Image.Resampling.NEAREST).save(buf, 'PNG')
    return buf.getvalue()


@pytest.fixture(scope='module')
def app_url(tiny_checkpoint, tmp_path_factory):
    """The app, started as a user would, on a free loopback port; stopped after the module."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f'{CHROMIUM} not installed (run tools/ci_browser_setup.sh)')
    pytest.importorskip('playwright.sync_api',
                        reason='playwright not installed (run tools/ci_browser_setup.sh)')
    config, checkpoint, _ = tiny_checkpoint
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    env = {k: v for k, v in os.environ.items() if not k.startswith('MMTB_')}
    env.update(OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    empty = tmp_path_factory.mktemp('no_work_dirs')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'streamlit', 'run', 'demo/streamlit_app.py',
         '--server.headless', 'true', '--server.port', str(port),
         '--server.address', '127.0.0.1', '--server.fileWatcherType', 'none',
         '--browser.gatherUsageStats', 'false',
         '--', '--checkpoint', str(checkpoint), '--config', str(config),
         '--work-dirs', str(empty)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@pytest.fixture(scope='module')
def browser(app_url):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser, app_url):
    """A fresh user (browser context) on the app; closed after the test."""
    contexts = []

    def open_page(width=1200, height=1250):
        context = browser.new_context(viewport=dict(width=width, height=height),
                                      accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.goto(app_url, wait_until='domcontentloaded')
        page.get_by_text('TB screening on chest X-rays').first.wait_for(timeout=60_000)
        return page
    yield open_page
    for context in contexts:
        context.close()


def upload(page, name, data, mime='image/png'):
    page.locator('.st-key-upload input[type=file]').set_input_files(
        dict(name=name, mimeType=mime, buffer=data), timeout=60_000)


def screen(page):
    page.get_by_role('button', name='Screen for TB').click(timeout=60_000)
    page.get_by_text('Decision threshold').first.wait_for(state='visible', timeout=90_000)


def save_screenshot(page, target):
    shot = target.with_suffix('.tmp.png')
    page.wait_for_timeout(500)  # let images finish painting
    page.screenshot(path=str(shot))  # Streamlit scrolls inside the page: no full_page
    assert shot.stat().st_size > 10_000
    if os.environ.get('MMTB_SAVE_APP_SCREENSHOT') == '1':
        # 256 colours: the noisy synthetic image would make a large PNG
        Image.open(shot).convert('RGB').quantize(256).save(target, optimize=True)
    shot.unlink()


def test_upload_screen_and_download_the_report(new_page, tmp_path):
    page = new_page()
    assert page.get_by_text('Deploy').count() == 0  # client.toolbarMode = viewer
    upload(page, 'synthetic_chest.png', xray_png())
    page.get_by_text('Image to screen (256 x 256 px)').first.wait_for(timeout=60_000)
    screen(page)
    assert page.get_by_text('TB probability').first.is_visible()
    assert page.locator('.mmtb-bar').first.is_visible()  # the bar with the threshold mark
    assert page.get_by_text('red line: decision threshold').first.is_visible()
    page.get_by_text('Heat map (Grad-CAM)').first.wait_for(timeout=30_000)
    assert page.get_by_text('not a diagnosis').first.is_visible()
    save_screenshot(page, DOCS_SCREENSHOT)

    with page.expect_download(timeout=60_000) as download:
        page.get_by_role('button', name='Download report (PDF)').click()
    pdf = tmp_path / 'report.pdf'
    download.value.save_as(pdf)
    data = pdf.read_bytes()
    assert download.value.suggested_filename.startswith('tb_report_synthetic_chest_')
    assert data.startswith(b'%PDF') and b'/Count 1' in data


def test_phone_screen_button_is_visible_after_upload(new_page):
    page = new_page(390, 844)
    upload(page, 'synthetic_chest.png', xray_png())
    button = page.get_by_role('button', name='Screen for TB')
    button.wait_for(timeout=60_000)
    box = button.bounding_box()
    assert box is not None and box['y'] + box['height'] <= 844  # no scrolling needed
    assert page.get_by_text('Adjust the image').first.is_visible()  # labelled, not "»"
    # the collapsed sidebar (model, threshold) opens from a labelled button, not a bare "»"
    label = page.evaluate('''getComputedStyle(document.querySelector(
        '[data-testid="stExpandSidebarButton"]'), '::after').content''')
    assert label == '"Model"'
    screen(page)
    page.get_by_text('Heat map (Grad-CAM)').first.wait_for(timeout=30_000)
    save_screenshot(page, DOCS_SCREENSHOT.with_name('app_phone.png'))


def test_crop_corners_drag_directly_and_the_box_stays_on_the_image(new_page):
    page = new_page()
    upload(page, 'synthetic_chest.png', xray_png())
    page.get_by_text('Image to screen (256 x 256 px)').first.wait_for(timeout=60_000)
    page.get_by_text('Adjust the image').first.click()
    page.get_by_text('Crop', exact=True).first.click()
    frame = page.frame_locator('iframe[title*="crop_box"]')
    handle = frame.locator('.handle.nw')
    # the handles are in the page from the start; they act once the image and box are drawn
    frame.locator('#wrap[data-ready="1"]').wait_for(state='attached', timeout=30_000)
    page.wait_for_timeout(500)
    # ticking Crop alone changes nothing: the box starts on the whole image
    assert page.get_by_text('Image to screen (256 x 256 px)').first.is_visible()

    def drag(locator, dx, dy):
        # Streamlit scrolls its own container (the cropper can sit under its fixed header,
        # where the mouse would press the header): centre the cropper first
        page.locator('iframe[title*="crop_box"]').evaluate(
            "e => e.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(200)
        b = locator.bounding_box()
        x, y = b['x'] + b['width'] / 2, b['y'] + b['height'] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + dx / 2, y + dy / 2, steps=4)
        page.mouse.move(x + dx, y + dy, steps=4)
        page.mouse.up()

    scale = frame.locator('#img').bounding_box()['width'] / 256
    drag(handle, 64 * scale, 64 * scale)  # the first drag on a corner resizes the box
    page.get_by_text('Image to screen (192 x 192 px)').first.wait_for(timeout=30_000)
    drag(frame.locator('.handle.se'), 200, 200)  # beyond the image: stops at its edge
    page.wait_for_timeout(1500)
    assert page.get_by_text('Image to screen (192 x 192 px)').first.is_visible()
    drag(frame.locator('#box'), -400, -400)  # moved off the image: stops at its corner
    page.wait_for_timeout(1500)
    assert page.get_by_text('Image to screen (192 x 192 px)').first.is_visible()
    screen(page)
    assert page.get_by_text('Unedited image: TB probability').first.is_visible()


def test_a_dicom_without_extension_is_screened(new_page):
    page = new_page()
    grey, _ = synthetic_xray(np.random.default_rng(11), 128, lesion=True)
    dicom = dicom_bytes(grey.astype(np.uint16) * 16)  # 12 bits, as a PACS export holds it
    upload(page, 'IM000001', dicom, 'application/octet-stream')
    page.get_by_text('Image to screen (128 x 128 px)').first.wait_for(timeout=60_000)
    screen(page)
    assert page.get_by_text('TB probability').first.is_visible()


def test_a_colour_photo_gets_no_verdict(new_page):
    page = new_page()
    upload(page, 'holiday.png', colour_photo_png())
    message = page.get_by_text('Cannot screen this image').first
    message.wait_for(timeout=60_000)  # in the page, not in a tooltip
    assert message.is_visible()
    assert page.get_by_role('button', name='Screen for TB').is_disabled()
    for verdict in ('TB suspected', 'No TB detected', 'Borderline'):
        assert page.get_by_text(verdict).count() == 0
    upload(page, 'notes.png', b'plain text, not an image')  # a refusal is in the page too
    page.get_by_text('notes.png:').first.wait_for(timeout=60_000)


def test_a_borderline_score_is_flagged(new_page):
    page = new_page()
    band = dict(low=0.0, high=1.0)
    op = json.dumps(dict(threshold=0.5, borderline_band=band)).encode()
    page.locator('.st-key-threshold_upload input[type=file]').set_input_files(
        dict(name='op.json', mimeType='application/json', buffer=op), timeout=60_000)
    page.get_by_text('Calibration in use: uploaded op.json').first.wait_for(timeout=60_000)
    upload(page, 'synthetic_chest.png', xray_png())
    screen(page)
    assert page.get_by_text('Borderline — review').first.is_visible()
    assert page.get_by_text('shaded: borderline band').first.is_visible()
