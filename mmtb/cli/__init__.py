"""Installed commands (setup.py console_scripts): ``mmtb-screen`` (:mod:`.screen`, also
``tools/screen.py``), ``mmtb-demo`` (:mod:`.image_demo`, also ``demo/image_demo.py``) and
``mmtb-app`` (:mod:`.app`, which starts the Streamlit page :mod:`mmtb.app.streamlit_app`)."""
