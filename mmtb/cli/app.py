"""``mmtb-app``: start the clinician app, the page shipped in the package, with its model
loaded and warmed up while the server starts (so the first user waits no longer than later
ones; :mod:`mmtb.app.model_cache`).

    mmtb-app                                   # the default model, http://localhost:8501
    mmtb-app --server.port 8502 -- --checkpoint work_dirs/<run>/epoch_10.pth

Options before ``--`` go to ``streamlit run`` (e.g. ``--server.port``, ``--server.headless
true``); the app's own (``--checkpoint``, ``--config``, ``--threshold``, ``--work-dirs``; see
:mod:`mmtb.app.streamlit_app`) after it. Started from anywhere, the app keeps the settings of
the repository's ``.streamlit/config.toml`` (``CLINIC_OPTIONS``) unless given otherwise.
"""
import importlib.util
import sys

# the page's file in the installed package (found, not imported: Streamlit executes it)
PAGE = importlib.util.find_spec('mmtb.app.streamlit_app').origin
HELP = __doc__.split('\n\n', 1)[1]
# no Deploy button or developer menu, no usage statistics, no browser opened on a server
CLINIC_OPTIONS = {'--client.toolbarMode': 'viewer', '--browser.gatherUsageStats': 'false',
                  '--server.headless': 'true'}


def split_options(argv) -> tuple[list[str], list[str]]:
    """(``streamlit run`` options with the clinic defaults added, the app's own options)."""
    argv = list(argv)
    streamlit_options, app_options = argv, []
    if '--' in argv:
        at = argv.index('--')
        streamlit_options, app_options = argv[:at], argv[at + 1:]
    given = {option.split('=', 1)[0] for option in streamlit_options}
    for option, value in CLINIC_OPTIONS.items():
        if option not in given:
            streamlit_options += [option, value]
    return streamlit_options, app_options


def command(argv) -> list[str]:
    """The ``streamlit run`` command line that ``mmtb-app ARGV`` runs (in this process)."""
    streamlit_options, app_options = split_options(argv)
    return ['streamlit', 'run', PAGE, *streamlit_options, '--', *app_options]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (['-h'], ['--help']):
        print(f'usage: mmtb-app [STREAMLIT OPTIONS] [-- APP OPTIONS]\n\n{HELP}')
        return 0
    from streamlit.web import cli as streamlit_cli

    from mmtb.app.model_cache import warm_up_in_background
    warm_up_in_background(split_options(argv)[1])  # while the server starts
    sys.argv = command(argv)
    try:
        streamlit_cli.main(prog_name='streamlit')
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0
    return 0


if __name__ == '__main__':
    sys.exit(main())
