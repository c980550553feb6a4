"""Loading a config the way every mmtb tool does (options, input size, work dir, backend)."""
import atexit
import os.path as osp
import re
from typing import Optional

import torch
from mmengine.config import Config, DictAction

__all__ = ['DictAction', 'at_input_size', 'cue_study_loaders', 'finish_launcher', 'input_size_of',
           'load_config', 'run_name', 'runner_config', 'set_input_size', 'set_launcher']

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# the input size a config's name ends its dataset part with: '..._tbcxr-224px'
SIZE_IN_NAME = re.compile(r'(?<![0-9])[0-9]+px(?![a-z])')


def _pipelines(cfg: Config):
    for key in DATALOADERS:
        loader = cfg.get(key)
        if loader and loader.get('dataset') and loader.dataset.get('pipeline'):
            yield loader.dataset.pipeline


# steps whose output size must follow the input size (a crop resized back to it)
RESIZING_STEPS = ('RandomResizedCrop',)


def _set_step_size(step: dict, size: int) -> bool:
    """Give one pipeline step the input size: the ``size`` of a ``LoadGreyXray``, the output
    ``scale`` of a step that crops and resizes back (``RESIZING_STEPS``). True for a loader."""
    if step.get('type') == 'LoadGreyXray':
        step['size'] = int(size)
        return True
    if step.get('type') in RESIZING_STEPS:
        step['scale'] = int(size)
    return False


def set_input_size(cfg: Config, size: int) -> None:
    """Set the model input size in every pipeline (each step as :func:`_set_step_size`)."""
    found = False
    for pipeline in _pipelines(cfg):
        for step in pipeline:
            found = _set_step_size(step, size) or found
    if not found:
        raise ValueError('the config has no LoadGreyXray step whose size could be set')


def _with_size(value, size: int):
    """A copy of ``value`` with ``size`` in every LoadGreyXray and resizing step inside it."""
    if isinstance(value, (list, tuple)):
        return type(value)(_with_size(item, size) for item in value)
    if not isinstance(value, dict):
        return value
    value = {key: _with_size(item, size) for key, item in value.items()}
    _set_step_size(value, size)
    return value


def at_input_size(base, size: int) -> dict:
    """What a size leaf changes in its base config: each top-level entry that holds a
    ``LoadGreyXray`` or a resizing step (the dataloaders' pipelines, and the building blocks they
    were made of, so that none still says the base's size), set as :func:`set_input_size` sets
    it. Mmengine builds a base before its leaf, so a leaf cannot just override ``img_size``;
    it states the change with ``globals().update(at_input_size(_base_, img_size))``."""
    changed = {}
    for key, value in base.items():
        resized = _with_size(value, size)
        if resized != value:
            changed[key] = resized
    if not any(key in changed for key in DATALOADERS):
        raise ValueError('the config has no LoadGreyXray step whose size could be set')
    return changed


def cue_study_loaders(base, cue_removal: list, train_augment: list = ()) -> dict:
    """The dataloaders of a shortcut-study config, stated once for all of them: ``cue_removal``
    after the loader in every pipeline, ``train_augment`` in training only, before the paper's
    augmentation (``base.paper_augment``). For a config:
    ``globals().update(cue_study_loaders(_base_, cue_removal, train_augment))``."""
    train = [base.load_xray, *cue_removal, *train_augment, *base.paper_augment, base.pack_inputs]
    test = [base.load_xray, *cue_removal, base.pack_inputs]
    # val and test alike (a base's test_dataloader is a copy of its val_dataloader, not a link)
    return dict(train_dataloader=dict(dataset=dict(pipeline=train)),
                val_dataloader=dict(dataset=dict(pipeline=test)),
                test_dataloader=dict(dataset=dict(pipeline=list(test))))


def input_size_of(cfg: Config) -> int:
    """The model input size the config's test pipeline resizes to."""
    for step in cfg.test_dataloader.dataset.pipeline:
        if step.get('type') == 'LoadGreyXray':
            return int(step.get('size', 512))
    raise ValueError('the config has no LoadGreyXray step in its test pipeline')


def run_name(config_path: str, img_size: Optional[int] = None) -> str:
    """Work-dir name of a config trained at ``img_size``: the size in the name ('512px') becomes
    e.g. '224px', so runs at different sizes never share a work dir."""
    stem = osp.splitext(osp.basename(config_path))[0]
    if not img_size or f'{img_size}px' in stem:
        return stem
    named = SIZE_IN_NAME.findall(stem)
    if not named:
        return f'{stem}_{img_size}px'
    return SIZE_IN_NAME.sub(f'{img_size}px', stem) if len(named) == 1 else f'{stem}_{img_size}px'


def load_config(path: str, cfg_options: Optional[dict] = None, img_size: Optional[int] = None,
                work_dir: Optional[str] = None) -> Config:
    """Read a config, apply ``--cfg-options`` and ``--img-size``, and pick the work dir."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if img_size:
        set_input_size(cfg, img_size)
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', run_name(path, img_size))
    return cfg


# what mmengine's Runner, mmpretrain's inferencer and mmtb's tools read from a config; the
# rest are the building blocks a config file composes its pipelines from (``load_xray``,
# ``cue_removal``, ...), which say nothing once composed and go stale when a tool changes the
# composed result (e.g. the input size)
RUNNER_KEYS = (
    'auto_scale_lr', 'custom_hooks', 'custom_imports', 'data_preprocessor', 'default_hooks',
    'default_scope', 'env_cfg', 'experiment_name', 'launcher', 'load_from', 'log_level',
    'log_processor', 'model', 'model_wrapper_cfg', 'optim_wrapper', 'param_scheduler',
    'pretrained_from', 'randomness', 'resume', 'test_cfg', 'test_dataloader', 'test_evaluator',
    'train_cfg', 'train_dataloader', 'val_cfg', 'val_dataloader', 'val_evaluator', 'visualizer',
    'work_dir')


def runner_config(cfg: Config) -> Config:
    """``cfg`` without its building blocks: the keys a run reads (``RUNNER_KEYS``) only, so a
    published config holds no entry that disagrees with what runs."""
    return Config({key: cfg[key] for key in RUNNER_KEYS if key in cfg})


def _destroy_process_group() -> None:
    import torch.distributed as dist
    if dist.is_initialized():
        dist.destroy_process_group()


def finish_launcher() -> None:
    """After a successful run: wait for every rank, then close the gloo group.

    A rank that tears down its connections while a peer still uses them can abort that peer.
    Not done at exit, where a rank that failed would wait for peers blocked on it.
    """
    import torch.distributed as dist
    if dist.is_initialized() and dist.get_backend() == 'gloo':
        dist.barrier()
        dist.destroy_process_group()


def set_launcher(cfg: Config, launcher: str) -> None:
    """Use ``launcher`` ('none' or 'pytorch', i.e. torchrun); on CPUs run it over gloo.

    mmengine's torchrun path assumes GPUs (it calls ``torch.cuda.set_device`` and gives DDP
    device ids), so on a CPU-only machine the gloo process group is opened here first and DDP
    is told to keep the model on the CPU. The group is destroyed at exit, while the
    interpreter is still alive: left to interpreter teardown, gloo's worker threads abort the
    process ("terminate called without an active exception") after a successful run.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
        atexit.register(_destroy_process_group)
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                 broadcast_buffers=False)
