"""The app's models: loaded once per server process, shared by every user, warmed up at start.

Why a module of its own: Streamlit keys ``st.cache_resource`` by the function's module and
code, and it executes the page as ``__main__``; a loader defined here is the same function for
the page and for ``mmtb-app``, which calls it in a background thread while the server starts
(:func:`warm_up_in_background`). A user who arrives before the model is ready waits for that
load (Streamlit holds one lock per cached value) instead of starting a second one.
"""
from __future__ import annotations

import logging
import sys
import threading
import time

import streamlit as st

from mmtb.apis import TBScreener, list_checkpoints
from mmtb.app.helpers import ModelDefaults, model_choices, model_defaults

__all__ = ['first_model', 'load_screener', 'screener_args', 'warm_up_in_background']
log = logging.getLogger('mmtb.demo')


@st.cache_resource(max_entries=3, show_spinner='Loading and warming up the model...')
def load_screener(config: str | None, checkpoint: str | None, threshold) -> TBScreener:
    """Load once per (config, checkpoint, threshold), shared by every user and rerun, and run
    one throw-away screening so the first real one is as fast as the later ones."""
    screener = TBScreener(config=config, checkpoint=checkpoint, threshold=threshold)
    screener.warm_up()
    return screener


def screener_args(entry: dict, threshold) -> tuple:
    """The ``load_screener`` arguments for an entry of the sidebar's model list: the page and
    the warm-up must pass the same values, or the warm-up fills a cache entry nobody reads."""
    config, checkpoint = entry['config'], entry['checkpoint']
    return (None if config is None else str(config),
            None if checkpoint is None else str(checkpoint), threshold)


def first_model(defaults: ModelDefaults) -> tuple | None:
    """The ``load_screener`` arguments of the model the sidebar selects before anyone touches
    it (the first entry of its list, with the start-up threshold), or None when none is listed."""
    choices = model_choices(defaults, list_checkpoints(defaults.work_dirs))
    return screener_args(choices[0], defaults.threshold) if choices else None


def warm_up_in_background(app_argv: list[str] | None) -> threading.Thread | None:
    """Load and warm up the app's first model in a daemon thread (None when there is none).

    A model that fails to load is only logged here: the page shows its own message then.
    """
    args = first_model(model_defaults(app_argv))
    if args is None:
        return None

    def load():
        start = time.perf_counter()
        try:
            screener = load_screener(*args)
        except Exception:  # the page reports it to the user when it tries the same model
            log.exception('warming up the model at start failed')
            return
        print(f'mmtb-app: model ready ({screener.name}, loaded and warmed up in '
              f'{time.perf_counter() - start:.1f} s)', file=sys.stderr, flush=True)

    thread = threading.Thread(target=load, name='mmtb-warm-up', daemon=True)
    thread.start()
    return thread
