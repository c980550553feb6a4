"""Start-up checks for a Streamlit server of the app run in another process: a free local port
to start it on, and a wait until it answers its health endpoint (used by the load benchmark and
the end-to-end tests)."""
import socket
import subprocess
import time
import urllib.request

__all__ = ['free_port', 'wait_until_healthy']


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Return once ``url``'s Streamlit health endpoint answers 200; raise with the server's last
    output if it exits first, or TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read()[-3000:] if proc.stdout else ''
            raise RuntimeError(f'streamlit exited early:\n{output}')
        try:
            with urllib.request.urlopen(f'{url}/_stcore/health', timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f'streamlit did not answer on {url} within {timeout} s')
