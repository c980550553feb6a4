"""Screen many chest X-rays for TB and write one CSV row per image.

    python tools/screen.py scans/ more.dcm --out results.csv --checkpoint work_dirs/<run>/x.pth

A thin entry point (installed: ``mmtb-screen``; ``tools/dist_screen.sh`` runs this file on
several processes); the command lives in :mod:`mmtb.cli.screen`.
"""
import sys

from mmtb.cli.screen import cam_target, collect, is_image_by_content, main, parse_args  # noqa: F401

if __name__ == '__main__':
    sys.exit(main())
