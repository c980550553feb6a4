# The paper's schedule: 10 epochs, batch 32 (in the dataset config), AdamW lr 1e-3, wd 0.05.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
)
param_scheduler = [
    # the paper names no scheduler; cosine decay to 0 over the 10 epochs is mmpretrain's
    # usual companion of AdamW and keeps the last epoch stable
    dict(type='CosineAnnealingLR', T_max=10, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# batch 32 on one device; scales lr when the total batch differs (--auto-scale-lr)
auto_scale_lr = dict(base_batch_size=32)
