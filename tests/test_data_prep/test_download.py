"""mmtb.data_prep.download and tools/dataset_converters/download_tbcxr.py against a local server.

A tiny HTTP server on 127.0.0.1 (random free port, in a thread) serves a small zip in the real
Shenzhen layout and honours Range requests; it can cut the first transfer short or ignore
Range. A guard makes any connection to another address fail the test.
"""
import hashlib
import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest
from conftest import REPO, load_script

from mmtb.data_prep import download as dl
from mmtb.data_prep.sources import read_source

TOOL = REPO / 'tools' / 'dataset_converters' / 'download_tbcxr.py'
ARCHIVE = '/ChinaSet_AllFiles.zip'


def load_tool():
    return load_script(TOOL, 'download_tbcxr')


download_tbcxr = load_tool()


def shenzhen_zip() -> bytes:
    """ChinaSet_AllFiles/{CXR_png,ClinicalReadings}/ as in the NLM archive (random pixels)."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_STORED) as bundle:
        for index, label in enumerate((0, 1, 0, 1), start=1):
            stem = f'CHNCXR_{index:04d}_{label}'
            ok, png = cv2.imencode('.png', rng.integers(0, 256, (48, 48), dtype=np.uint8))
            assert ok
            bundle.writestr(f'ChinaSet_AllFiles/CXR_png/{stem}.png', png.tobytes())
            bundle.writestr(f'ChinaSet_AllFiles/ClinicalReadings/{stem}.txt',
                            f'male {30 + index}yrs\n{"normal" if not label else "PTB"}\n')
        bundle.writestr('ChinaSet_AllFiles/NLM-ChinaCXRSet-ReadMe.docx', b'readme')
        bundle.writestr('__MACOSX/ChinaSet_AllFiles/CXR_png/._CHNCXR_0001_0.png', b'junk')
    return buffer.getvalue()


PAYLOAD = shenzhen_zip()
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


class RangeHandler(BaseHTTPRequestHandler):
    """Serves ``server.payload`` at ARCHIVE; Range-aware unless ``server.ignore_range``."""

    def do_GET(self):
        server = self.server
        server.requests.append(dict(self.headers))
        if self.path != ARCHIVE:
            self.send_error(404)
            return
        data, start = server.payload, 0
        requested = self.headers.get('Range')
        if requested and not server.ignore_range:
            start = int(requested.removeprefix('bytes=').split('-')[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header('Content-Range', f'bytes */{len(data)}')
                self.send_header('Content-Length', '0')
                self.end_headers()
                return
            self.send_response(206)
            self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if server.cut_first_after is not None:   # drop the connection mid-way, once
            body, server.cut_first_after = body[:server.cut_first_after], None
        self.wfile.write(body)

    def log_message(self, *args):   # keep pytest output clean
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), RangeHandler)
    httpd.payload, httpd.requests = PAYLOAD, []
    httpd.cut_first_after, httpd.ignore_range = None, False
    httpd.url = f'http://127.0.0.1:{httpd.server_address[1]}{ARCHIVE}'
    thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.02},
                              daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def only_localhost(monkeypatch):
    """Fail loudly if anything tries to reach an address other than 127.0.0.1."""
    connect = socket.socket.connect

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] != '127.0.0.1':
            raise AssertionError(f'test tried to contact {address}')
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, 'connect', guarded)


def shenzhen_info(server, sha256=PAYLOAD_SHA256) -> dl.DatasetInfo:
    real = dl.DATASETS['shenzhen']
    return dl.DatasetInfo(name=real.name, title=real.title, citation=real.citation,
                          urls=(server.url,), filename=real.filename, sha256=sha256,
                          source_kind=real.source_kind, layout_marker=real.layout_marker)


def test_download_extract_and_checksum(server, tmp_path):
    result = dl.download(shenzhen_info(server), tmp_path, progress=False)
    assert result.verified and result.sha256 == PAYLOAD_SHA256
    assert result.archive.read_bytes() == PAYLOAD
    assert not list(tmp_path.glob('*.part*'))
    assert result.reader_root == tmp_path / 'ChinaSet_AllFiles'
    records = read_source('shenzhen', result.reader_root)
    assert [r['gt_label'] for r in records] == [0, 1, 0, 1]
    assert records[1]['age'] == 32 and records[1]['finding'] == 'PTB'
    # a second call finds the verified archive and does not download again
    assert dl.download(shenzhen_info(server), tmp_path, progress=False).verified
    assert len(server.requests) == 1


def test_interrupted_transfer_resumes_from_part(server, tmp_path):
    server.cut_first_after = 1000
    with pytest.raises(dl.TransferInterrupted, match='run the same command again'):
        dl.download(shenzhen_info(server), tmp_path, progress=False, retries=0)
    part = tmp_path / 'ChinaSet_AllFiles.zip.part'
    assert part.stat().st_size == 1000 and not (tmp_path / 'ChinaSet_AllFiles.zip').exists()

    result = dl.download(shenzhen_info(server), tmp_path, progress=False, retries=0)
    assert [request.get('Range') for request in server.requests] == [None, 'bytes=1000-']
    assert result.verified and result.archive.read_bytes() == PAYLOAD
    assert not part.exists()


def test_retries_resume_within_one_call(server, tmp_path):
    server.cut_first_after = 777
    result = dl.download(shenzhen_info(server), tmp_path, progress=False, retries=1)
    assert result.verified
    assert [request.get('Range') for request in server.requests] == [None, 'bytes=777-']


def test_resume_uses_the_mirror_the_part_came_from(server, tmp_path):
    gone = server.url.replace(ARCHIVE, '/gone.zip')
    info = dl.DatasetInfo(**{**shenzhen_info(server).__dict__, 'urls': (gone, server.url)})
    server.cut_first_after = 1500
    with pytest.raises(dl.TransferInterrupted):
        dl.download(info, tmp_path, progress=False, retries=0)
    result = dl.download(info, tmp_path, progress=False, retries=0)
    # 404, cut transfer, then straight back to the working mirror with a Range request
    assert [request.get('Range') for request in server.requests] == [None, None, 'bytes=1500-']
    assert result.verified


def test_server_ignoring_range_restarts_from_scratch(server, tmp_path):
    server.cut_first_after, server.ignore_range = 1000, True
    with pytest.raises(dl.TransferInterrupted):
        dl.download(shenzhen_info(server), tmp_path, progress=False, retries=0)
    result = dl.download(shenzhen_info(server), tmp_path, progress=False, retries=0)
    assert server.requests[1].get('Range') == 'bytes=1000-'   # asked, but got a 200
    assert result.verified and result.archive.read_bytes() == PAYLOAD   # not 1000 + whole


def test_complete_part_is_finished_without_new_bytes(server, tmp_path):
    (tmp_path / 'ChinaSet_AllFiles.zip.part').write_bytes(PAYLOAD)
    (tmp_path / 'ChinaSet_AllFiles.zip.part.url').write_text(server.url + '\n')
    result = dl.download(shenzhen_info(server), tmp_path, progress=False)
    assert result.verified and server.requests[0]['Range'] == f'bytes={len(PAYLOAD)}-'


def test_corrupted_archive_is_rejected_and_deleted(server, tmp_path):
    damaged = bytearray(PAYLOAD)
    damaged[len(damaged) // 2] ^= 0xFF
    server.payload = bytes(damaged)
    with pytest.raises(dl.ChecksumMismatch, match='does not match the expected'):
        dl.download(shenzhen_info(server), tmp_path, progress=False)
    assert not list(tmp_path.iterdir())     # neither the archive nor a .part nor extracted files


def test_cli_wrong_checksum_exits_2(server, tmp_path, capsys):
    argv = ['shenzhen', '--out', str(tmp_path), '--url', server.url, '--sha256', '0' * 64]
    assert download_tbcxr.main(argv) == 2
    err = capsys.readouterr().err
    assert 'sha256' in err and 'deleted' in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_cli_unknown_checksum_prints_the_computed_one(server, tmp_path, capsys):
    # the registry has no verified sha256 for shenzhen, and --url avoids the real NLM server
    assert dl.DATASETS['shenzhen'].sha256 is None
    assert download_tbcxr.main(['shenzhen', '--out', str(tmp_path), '--url', server.url]) == 0
    out = capsys.readouterr().out
    assert PAYLOAD_SHA256 in out and 'could not verify' in out
    assert f'--input shenzhen:{tmp_path / "ChinaSet_AllFiles"}' in out


def test_cli_mirror_fallback(server, tmp_path, capsys):
    missing = server.url.replace(ARCHIVE, '/gone.zip')
    argv = ['shenzhen', '--out', str(tmp_path), '--url', missing, '--url', server.url,
            '--sha256', PAYLOAD_SHA256]
    assert download_tbcxr.main(argv) == 0
    assert 'sha256 verified' in capsys.readouterr().out


@pytest.mark.parametrize('name, hint', [('tbdb', 'kaggle'), ('tbx11k', 'kaggle'),
                                        ('pakistan', 'mendeley')])
def test_cli_login_sets_explain_the_manual_download(tmp_path, capsys, name, hint):
    assert download_tbcxr.main([name, '--out', str(tmp_path / 'raw')]) == 2
    err = capsys.readouterr().err
    assert hint in err.lower() and len(err.strip().splitlines()) == 1
    assert not (tmp_path / 'raw').exists()


def test_every_registered_set_has_a_source_reader_and_a_way_to_get_it():
    from mmtb.data_prep.sources import source_kinds
    for info in dl.DATASETS.values():
        assert info.source_kind in source_kinds()
        assert bool(info.urls) != bool(info.manual)
        assert all(url.startswith('https://') for url in info.urls)
