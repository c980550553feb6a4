"""Distillation: the soft-target loss, a tiny student moving toward its teacher, the dataset that
attaches teacher targets, the soft-target tool and the distillation config."""
import json

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, load_script, run_tool
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmtb.apis import DEFAULT_MODEL_DIR
from mmtb.datasets import SoftTargetDataset
from mmtb.datasets.soft_targets import UNLABELLED
from mmtb.models.classifiers.distill import soft_target_kl, tempered_teacher
from mmtb.utils import load_config

DISTILL = ('configs/distill/efficientnet-lite0-in1k-pre-fpn_distill-default_1xb32-adamw-5e_'
           'tbcxr-224px.py')
ROBUST = ('configs/robust/efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_'
          'tbcxr-512px.py')


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest: one torch thread


TINY_NET = dict(backbone=dict(type='MobileNetV2', widen_factor=0.25, out_indices=(7, )),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=2, in_channels=1280,
                          loss=dict(type='CrossEntropyLoss')))


def tiny_student(soft_weight=1.0, temperature=2.0, **kwargs):
    """A small MobileNetV2 student on 32-px inputs: fast enough to train in a test."""
    return MODELS.build(dict(type='DistillImageClassifier', temperature=temperature,
                             soft_weight=soft_weight, **TINY_NET, **kwargs))


def samples(labels, teacher):
    batch = []
    for label, p in zip(labels, teacher):
        sample = DataSample().set_gt_label(int(label))
        sample.set_field(float(p), 'teacher_prob_tb')  # as PackInputs' algorithm_keys does
        batch.append(sample)
    return batch


def test_soft_target_loss_is_zero_when_the_student_agrees():
    teacher = torch.tensor([0.05, 0.5, 0.9])
    for temperature in (1.0, 2.0, 4.0):
        logits = torch.log(tempered_teacher(teacher, 1.0))  # the teacher's own logits
        assert soft_target_kl(logits, teacher, temperature).abs() < 1e-6
        assert soft_target_kl(-logits, teacher, temperature) > 0.1
    assert torch.allclose(tempered_teacher(teacher, 1.0)[:, 1], teacher)
    # a higher temperature softens the teacher toward 0.5
    assert (tempered_teacher(teacher, 4.0)[:, 1] - 0.5).abs().max() < (teacher - 0.5).abs().max()


@pytest.mark.slow
def test_tiny_student_moves_toward_the_teacher():
    torch.manual_seed(0)
    student = tiny_student(soft_weight=1.0, temperature=1.0)
    inputs = torch.randn(8, 3, 32, 32)
    teacher = torch.tensor([0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.95, 0.05])
    # hard labels that contradict the teacher: with soft_weight 1 they must not matter
    batch = samples((teacher < 0.5).long(), teacher)

    def gap():  # in train mode: BatchNorm with this batch's statistics, as in the loss
        with torch.no_grad():
            prob = torch.softmax(student(inputs, mode='tensor'), dim=1)[:, 1]
        return float((prob - teacher).abs().mean())

    before = gap()
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)
    for _ in range(40):
        losses = student.loss(inputs, batch)
        assert losses['loss_hard'].item() == 0
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    assert gap() < 0.5 * before, (before, gap())


def test_hard_and_unlabelled_samples():
    torch.manual_seed(0)
    student = tiny_student(soft_weight=0.0)
    inputs = torch.randn(4, 3, 32, 32)
    losses = student.loss(inputs, samples([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6]))
    assert losses['loss_soft'].item() == 0 and losses['loss_hard'].item() > 0
    # unlabelled samples (only the teacher scored them) give no hard loss
    student = tiny_student(soft_weight=0.5)
    losses = student.loss(inputs, samples([UNLABELLED] * 4, [0.2, 0.8, 0.3, 0.6]))
    assert losses['loss_hard'].item() == 0 and losses['loss_soft'].item() > 0
    with pytest.raises(KeyError, match='teacher_prob_tb'):
        student.loss(inputs, [DataSample().set_gt_label(0)] * 4)
    with pytest.raises(ValueError, match='soft_weight'):
        tiny_student(soft_weight=1.5)


def normalising(mean):
    return dict(type='ClsDataPreprocessor', mean=[mean] * 3, std=[127.5] * 3)


def test_online_teacher_scores_the_students_batch(tmp_path):
    torch.manual_seed(0)
    teacher = MODELS.build(dict(type='ImageClassifier', **TINY_NET,
                                data_preprocessor=normalising(127.5)))
    torch.save(dict(state_dict=teacher.state_dict()), tmp_path / 'teacher.pth')
    Config(dict(model=dict(type='ImageClassifier', **TINY_NET,
                           data_preprocessor=normalising(127.5)))).dump(tmp_path / 'teacher.py')
    files = dict(config=str(tmp_path / 'teacher.py'), checkpoint=str(tmp_path / 'teacher.pth'))
    student = tiny_student(soft_weight=0.5, teacher=files,
                           data_preprocessor=normalising(127.5))
    assert not [k for k in student.state_dict() if 'teacher' in k]  # the student alone is saved
    inputs = torch.randn(4, 3, 32, 32)
    # no teacher_prob_tb in the samples: the teacher scores this very batch
    losses = student.loss(inputs, [DataSample().set_gt_label(i % 2) for i in range(4)])
    teacher.eval()
    with torch.no_grad():
        expected_teacher = torch.softmax(teacher(inputs, mode='tensor'), dim=1)[:, 1]
        assert torch.allclose(student.online_teacher_probs(inputs), expected_teacher, atol=1e-5)
        student.train()
        logits = student.head(student.extract_feat(inputs))
    expected = 0.5 * soft_target_kl(logits, expected_teacher, 2.0)
    assert torch.allclose(losses['loss_soft'], expected, atol=1e-5)
    with pytest.raises(ValueError, match='normalises its input differently'):
        tiny_student(teacher=files, data_preprocessor=normalising(0.0))
    # a student at a larger input hands the teacher the batch at the teacher's own size
    larger = tiny_student(teacher=dict(files, input_size=16), data_preprocessor=normalising(127.5))
    small = F.interpolate(inputs, size=(16, 16), mode='bilinear', antialias=True)
    with torch.no_grad():
        at_teacher_size = torch.softmax(teacher(small, mode='tensor'), dim=1)[:, 1]
    assert torch.allclose(larger.online_teacher_probs(inputs), at_teacher_size, atol=1e-5)


@pytest.mark.slow
def test_soft_target_dataset(tiny_dataset, tmp_path):
    train = json.loads((tiny_dataset / 'meta' / 'train.json').read_text())['data_list']
    targets = {info['img_path']: 0.25 for info in train}
    extra = tmp_path / 'extra.png'
    path = tmp_path / 'soft.json'
    path.write_text(json.dumps(dict(labelled=targets, unlabelled={str(extra): 0.75})))
    dataset = SoftTargetDataset(ann_file='meta/train.json', data_root=str(tiny_dataset),
                                soft_targets=str(path), pipeline=[])
    assert len(dataset) == len(train) + 1
    assert dataset[0]['teacher_prob_tb'] == 0.25 and dataset[0]['gt_label'] in (0, 1)
    assert dataset[len(train)]['gt_label'] == UNLABELLED
    assert len(SoftTargetDataset(ann_file='meta/train.json', data_root=str(tiny_dataset),
                                 soft_targets=str(path), use_unlabelled=False)) == len(train)
    del targets[train[3]['img_path']]
    path.write_text(json.dumps(dict(labelled=targets)))
    with pytest.raises(KeyError, match='1 of 24 training images have no teacher target'):
        SoftTargetDataset(ann_file='meta/train.json', data_root=str(tiny_dataset),
                          soft_targets=str(path))


def test_distill_config_is_the_robust_recipe_at_224px():
    distill = load_config(str(REPO / DISTILL))
    robust = load_config(str(REPO / ROBUST), img_size=224)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ours, theirs = distill[key].dataset.pipeline, robust[key].dataset.pipeline
        assert ours[:-1] == theirs[:-1], key
    assert distill.train_dataloader.dataset.pipeline[-1].algorithm_keys == ('teacher_prob_tb', )
    assert distill.train_dataloader.dataset.type == 'SoftTargetDataset'
    assert distill.model.type == 'DistillImageClassifier'
    model_cfg = Config(dict(distill.model))
    model_cfg.backbone.init_cfg = None  # no ImageNet weights needed to build it
    student = MODELS.build(model_cfg)
    n_params = sum(p.numel() for p in student.parameters())
    assert n_params * 2 < 10e6, n_params  # <= 10 MB in fp16 (the size limit)


@pytest.mark.slow
@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / 'model.pth').is_file(), reason='no default model')
def test_soft_target_tool_and_one_distillation_epoch(tiny_dataset, tmp_path):
    """The default teaches a Lite0-FPN student for one epoch on the tiny set (64 px)."""
    soft = tmp_path / 'soft.json'
    overrides = [f'train_dataloader.dataset.data_root={tiny_dataset}',
                 f'val_dataloader.dataset.data_root={tiny_dataset}',
                 f'test_dataloader.dataset.data_root={tiny_dataset}']
    config = tmp_path / 'distill.py'
    cfg = load_config(str(REPO / DISTILL), img_size=64)
    cfg.merge_from_dict({k: v for k, v in (o.split('=') for o in overrides)})
    cfg.dump(str(config))
    result = run_tool('tools/distill/teacher_soft_targets.py', config, '--out', soft)
    assert result.returncode == 0, result.stderr[-3000:]
    targets = json.loads(soft.read_text())
    assert len(targets['labelled']) == 24 and targets['teacher']['name'] == 'default'
    assert all(0 <= p <= 1 for p in targets['labelled'].values())
    result = run_tool(
        'tools/train.py', config, '--work-dir', tmp_path / 'work', '--cfg-options',
        'train_cfg.max_epochs=1', f'train_dataloader.dataset.soft_targets={soft}',
        'model.backbone.init_cfg=None', 'train_dataloader.batch_size=8',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.persistent_workers=False')
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
    assert 'loss_soft' in result.stdout + result.stderr


def test_a_student_is_published_as_a_plain_classifier(tmp_path):
    """publish_default_model.py writes a student's config as an ImageClassifier: loading the
    published model never loads (or needs) its teacher, and the student's weights fit it."""
    publish = load_script('tools/model_converters/publish_default_model.py', 'publish_student')
    online = ('configs/distill/efficientnet-lite0-in1k-pre-fpn_distill-default-online_'
              '1xb32-adamw-10e_tbcxr-128px.py')
    cfg = publish.write_config(REPO / online, tmp_path)
    assert cfg.model.type == 'ImageClassifier'
    assert not set(cfg.model) & {'teacher', 'temperature', 'soft_weight', 'tb_index'}
    student = MODELS.build(Config(dict(load_config(str(REPO / online)).model,
                                       teacher=None)))
    plain = MODELS.build(Config.fromfile(str(tmp_path / 'config.py')).model)
    assert plain.load_state_dict(student.state_dict()) is not None  # same keys, same shapes
