"""Fill the decode cache and the remembered cue-removal steps once, before the workers start.

Each data-loader worker keeps its own cache (``LoadGreyXray``) and its own remembered steps
(:mod:`mmtb.datasets.transforms.memo`). Filled by the workers themselves, an image is a hit in
a worker only once that worker has met it: with two workers, about half the images in the
second epoch, three quarters in the third. Filled here, in the main process before the workers
are forked, every worker has every image from the first step on (shared copy-on-write).
Only the leading deterministic steps run (no random number is drawn), so training is unchanged.
"""
import time

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmtb.datasets.transforms.loading import LoadGreyXray
from mmtb.datasets.transforms.memo import RememberedByContent

__all__ = ['WarmCachesHook', 'deterministic_prefix']


def deterministic_prefix(transforms) -> list:
    """The leading steps of a pipeline that cache or remember their output (the loader and
    the cue-removal steps after it), up to the first other step."""
    prefix = []
    for transform in transforms:
        cached = isinstance(transform, LoadGreyXray) and transform.cache
        if not (cached or isinstance(transform, RememberedByContent) and transform.remember):
            break
        prefix.append(transform)
    return prefix if prefix and isinstance(prefix[0], LoadGreyXray) else []


@HOOKS.register_module()
class WarmCachesHook(Hook):
    """Run the training set's deterministic steps over every image in ``before_train``."""

    priority = 'LOW'

    def before_train(self, runner) -> None:
        dataset = runner.train_loop.dataloader.dataset
        steps = deterministic_prefix(getattr(getattr(dataset, 'pipeline', None), 'transforms',
                                             []))
        if not steps:
            return
        start = time.perf_counter()
        for index in range(len(dataset)):
            results = dataset.get_data_info(index)
            for step in steps:
                results = step(results)
        runner.logger.info(f'WarmCachesHook: {len(steps)} deterministic steps run over '
                           f'{len(dataset)} images in {time.perf_counter() - start:.1f} s')
