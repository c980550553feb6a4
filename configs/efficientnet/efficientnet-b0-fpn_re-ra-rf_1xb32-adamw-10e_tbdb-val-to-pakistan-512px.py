# efficientnet-b0-fpn + RE+RA+RF (the paper's proposal) trained on the TB database with a
# validation split (data/tbdb_val, prepare_tbcxr.py --val-ratio 0.1) and tested on the Pakistani
# hospital's X-rays (data/pakistan256): the threshold is chosen on validation data
# (tools/run_ablation.py --threshold-split val), never on a test set.
_base_ = [
    '../_base_/models/efficientnet_b0_fpn.py', '../_base_/datasets/tbcxr_external_bs32.py',
    '../_base_/schedules/adamw_10e.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, _base_.rand_augment, _base_.random_flip, _base_.random_erasing,
    _base_.pack_inputs]))
