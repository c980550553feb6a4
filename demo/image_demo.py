"""Screen one chest X-ray for TB from the command line; prints the result as JSON.

    python demo/image_demo.py xray.png --checkpoint work_dirs/<run>/epoch_10.pth --out cam.png
    python demo/image_demo.py IM000001 --report report.pdf

A thin entry point (installed: ``mmtb-demo``); the command lives in :mod:`mmtb.cli.image_demo`.
"""
import sys

from mmtb.cli.image_demo import main, parse_args  # noqa: F401

if __name__ == '__main__':
    sys.exit(main())
