# External evaluation: train on one source, choose thresholds and checkpoints on that source's
# VALIDATION split, test on another hospital's X-rays. Same preprocessing and batch size as
# tbcxr_bs32.py; only where each dataloader reads from changes.
#   training data: prepare_tbcxr.py --input tbdb:../shared/data/tbdb256 --out data/tbdb_val \
#                      --val-ratio 0.1                       (meta/{train,val,test}.json, 70/10/20)
#   external test: prepare_tbcxr.py --input pakistan:../shared/data/pakistan256 \
#                      --out data/pakistan256 --all-test     (meta/test.json only)
# A leave-one-source-out conversion (--hold-out-source NAME --val-ratio R) works the same way:
# point train_root at it and external_root at the same folder (its test.json is the held-out
# source).
_base_ = ['./tbcxr_bs32.py']

train_root = 'data/tbdb_val'
external_root = 'data/pakistan256'

train_dataloader = dict(dataset=dict(data_root=train_root, ann_file='meta/train.json'))
# Evaluated every epoch and the split the operating threshold is taken from
# (tools/run_ablation.py --threshold-split val): never the test set.
val_dataloader = dict(dataset=dict(data_root=train_root, ann_file='meta/val.json'))
# The base makes test_dataloader a copy of val_dataloader; replace it whole so nothing of the
# training source's validation split leaks into the external test definition.
test_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=_base_.dataset_type, data_root=external_root, ann_file='meta/test.json',
        metainfo=dict(classes=_base_.classes), pipeline=_base_.test_pipeline),
)
