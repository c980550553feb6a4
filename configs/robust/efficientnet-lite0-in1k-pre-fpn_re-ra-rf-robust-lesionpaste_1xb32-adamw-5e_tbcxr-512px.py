# Issue #16: all five cue steps (-robust) plus lesion-aware augmentation: TBX11K's boxed lesions
# pasted into training X-rays (label -> TB) and their mirrored lesion-free controls pasted at the
# same places (label kept), so TBX11K texture appears in both classes. Only the 'patch' half of
# the boxed films is used (mmtb.data_prep.boxes.lesion_split); the 'eval' half stays unseen.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-512px.py']

# TBX11K at 256 px: TB/*.png + boxes.csv (file,kind,x0,y0,x1,y1); see docs for the download
lesion_data = '../shared/data/tbx11k256'
lesion_paste = dict(type='PasteLesionPatches', boxes_file=lesion_data + '/boxes.csv',
                    image_root=lesion_data, lesion_prob=0.25, control_prob=0.35)
cue_removal = [_base_.mask_burnt_in, _base_.crop_lung_field, _base_.standardize]
train_augment = [_base_.paste_blocks, *_base_.shift_augment]
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, lesion_paste, *cue_removal, *train_augment, *_base_.paper_augment,
    _base_.pack_inputs]))
