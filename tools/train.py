"""Train one mmtb config with mmengine's Runner (single process or under torchrun).

    python tools/train.py configs/efficientnet/...py [--img-size 224] [--resume] [--amp]

A thin entry point: the command line and the training live in :mod:`mmtb.apis.train`.
"""
from mmtb.apis.train import main, parse_args, train, train_config  # noqa: F401

if __name__ == '__main__':
    main()
