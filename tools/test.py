"""Evaluate a checkpoint: screening metrics (TB positive) printed and written as JSON.

    python tools/test.py CONFIG CHECKPOINT [--data-root data/pakistan256] [--scores s.csv]

A thin entry point: the command line and the evaluation live in :mod:`mmtb.apis.test`.
"""
from mmtb.apis.test import (  # noqa: F401
    main,
    parse_args,
    screening_evaluators,
    test,
    test_config,
)

if __name__ == '__main__':
    main()
