"""Train one mmtb config with mmengine's Runner (single process or under torchrun).

    python tools/train.py configs/efficientnet/...py [--img-size 224] [--resume] [--amp]

A thin entry point: the command line and the training live in :mod:`mmtb.apis.train`. On a
CPU it first starts itself again with tcmalloc/jemalloc when one is installed
(:mod:`mmtb.utils.allocator`; ``MMTB_ALLOCATOR=system`` keeps glibc's).
"""
from mmtb.apis.train import main, parse_args, train, train_config  # noqa: F401
from mmtb.utils.allocator import restart_with_allocator

if __name__ == '__main__':
    restart_with_allocator()
    main()
