"""``mmtb-app``: the clinic's Streamlit settings from anywhere, the app's options passed on."""
from mmtb.cli import app


def test_clinic_settings_are_added_unless_given():
    options, app_options = app.split_options(['--server.port', '8502', '--', '--threshold',
                                              '0.4'])
    assert app_options == ['--threshold', '0.4']
    assert options[:2] == ['--server.port', '8502']
    for option, value in app.CLINIC_OPTIONS.items():
        assert options[options.index(option) + 1] == value
    mine, _ = app.split_options(['--client.toolbarMode=developer'])
    assert '--client.toolbarMode' not in mine and '--client.toolbarMode=developer' in mine
    assert app.split_options([])[1] == []


def test_the_command_runs_the_shipped_page_with_the_apps_options_after_the_separator():
    command = app.command(['--', '--checkpoint', 'x.pth'])
    assert command[:3] == ['streamlit', 'run', app.PAGE]
    assert command[-3:] == ['--', '--checkpoint', 'x.pth']
    assert app.PAGE.endswith('mmtb/app/streamlit_app.py')


def test_help_needs_no_server(capsys):
    assert app.main(['--help']) == 0
    assert capsys.readouterr().out.startswith('usage: mmtb-app')
