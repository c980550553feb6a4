"""Download a public TB chest X-ray set, verify it and unpack it for prepare_tbcxr.py.

Example::

    python tools/dataset_converters/download_tbcxr.py shenzhen --out data/raw
    python tools/dataset_converters/download_tbcxr.py --list

Interrupted downloads resume when the same command is run again (``<archive>.part``). Exit
status 0: done; 2: the set needs a manual download (the one-line message says how), the
checksum did not match (the file was deleted), the transfer was interrupted, or no mirror
answered. The logic lives in ``mmtb.data_prep.download``.
"""
import argparse
import sys
from pathlib import Path

# Let `python tools/...` work from a checkout without `pip install -e .`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmtb.data_prep.download import DATASETS, DownloadError, dataset_table, download


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Download, verify and unpack a public TB chest X-ray dataset.')
    parser.add_argument('name', nargs='?', choices=sorted(DATASETS), metavar='NAME',
                        help=f'dataset: {", ".join(sorted(DATASETS))}')
    parser.add_argument('--out', help='folder for the archive and its unpacked files')
    parser.add_argument('--url', action='append', metavar='URL',
                        help='download from this mirror instead (repeatable, tried in order)')
    parser.add_argument('--sha256', help='expected sha256 (overrides the registry)')
    parser.add_argument('--no-extract', action='store_true', help='keep the archive packed')
    parser.add_argument('--retries', type=int, default=2,
                        help='resume a dropped connection this many times (default: %(default)s)')
    parser.add_argument('--list', action='store_true', help='list the known datasets and exit')
    args = parser.parse_args(argv)
    if not args.list and (args.name is None or args.out is None):
        parser.error('NAME and --out are required (or use --list)')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        print(dataset_table())
        return 0
    info = DATASETS[args.name]
    try:
        result = download(info, args.out, urls=args.url, sha256=args.sha256,
                          extract=not args.no_extract, retries=args.retries)
    except DownloadError as error:
        print(f'download_tbcxr: error: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'download_tbcxr: interrupted; run the same command again to resume into '
              f'{args.out}', file=sys.stderr)
        return 130
    if result.verified:
        print(f'{result.archive}: sha256 verified ({result.sha256})')
    else:
        print(f'{result.archive}: sha256 {result.sha256} - could not verify it (no published '
              f'checksum is known for {info.name}); keep it to check later downloads with '
              '--sha256')
    if result.reader_root is not None:
        print(f'unpacked; next: python tools/dataset_converters/prepare_tbcxr.py '
              f'--input {info.source_kind}:{result.reader_root} --out data/tbcxr')
    elif result.extracted_to is not None:
        print(f'unpacked into {result.extracted_to}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
