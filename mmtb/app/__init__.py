"""The clinician app (Streamlit): :mod:`mmtb.app.streamlit_app` is the page, ``helpers`` its
Streamlit-free logic, ``crop_box/`` its crop component; ``mmtb-app`` starts it."""
