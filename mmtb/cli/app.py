"""``mmtb-app``: start the clinician app, ``streamlit run`` on the page shipped in the package.

    mmtb-app                                   # the default model, http://localhost:8501
    mmtb-app --server.port 8502 -- --checkpoint work_dirs/<run>/epoch_10.pth

Options before ``--`` go to ``streamlit run`` (e.g. ``--server.port``, ``--server.headless
true``); the app's own (``--checkpoint``, ``--config``, ``--threshold``, ``--work-dirs``; see
:mod:`mmtb.app.streamlit_app`) after it.
"""
import importlib.util
import subprocess
import sys

# the page's file in the installed package (found, not imported: Streamlit executes it)
PAGE = importlib.util.find_spec('mmtb.app.streamlit_app').origin
HELP = __doc__.split('\n\n', 1)[1]


def command(argv) -> list[str]:
    """The ``streamlit run`` command line for ``mmtb-app ARGV``."""
    argv = list(argv)
    streamlit_options, app_options = argv, []
    if '--' in argv:
        at = argv.index('--')
        streamlit_options, app_options = argv[:at], argv[at + 1:]
    return [sys.executable, '-m', 'streamlit', 'run', PAGE, *streamlit_options,
            '--', *app_options]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (['-h'], ['--help']):
        print(f'usage: mmtb-app [STREAMLIT OPTIONS] [-- APP OPTIONS]\n\n{HELP}')
        return 0
    return subprocess.call(command(argv))


if __name__ == '__main__':
    sys.exit(main())
