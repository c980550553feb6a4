"""The app's custom Streamlit component: the crop box (``crop_box/index.html``, plain HTML +
JS, no build step). Declared in an imported module, because Streamlit names a component after
the module that declares it, and the page itself runs as ``__main__`` without one."""
from pathlib import Path

import streamlit.components.v1 as components

crop_box_component = components.declare_component(
    'mmtb_crop_box', path=str(Path(__file__).resolve().parent / 'crop_box'))
