"""mmtb clinician app: upload a chest X-ray, get a TB triage score with a heat map and a report.

Run:  streamlit run demo/streamlit_app.py [-- --checkpoint PATH [--config CFG] [--threshold T]]
(installed: ``mmtb-app``). A thin wrapper: the page is :mod:`mmtb.app.streamlit_app`, executed
here from the top at every rerun as Streamlit runs a script.
"""
import runpy

runpy.run_module('mmtb.app.streamlit_app', run_name='__main__')
