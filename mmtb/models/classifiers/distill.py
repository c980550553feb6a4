"""One student network trained on a teacher's soft P(TB): ensemble distillation.

The shipped default is ten networks; most of what the ensemble adds over one of them is its
averaged probability, which a single student can learn when it is trained to reproduce it
(Hinton et al. 2015, "Distilling the knowledge in a neural network"). The teacher is run once,
offline, on un-augmented images (``tools/distill/teacher_soft_targets.py`` writes its P(TB)
per image); :class:`mmtb.datasets.SoftTargetDataset` attaches that number to every sample as
``teacher_prob_tb`` and the classifier below mixes

    loss = (1 - soft_weight) * CE(student, hard label)
           + soft_weight * T^2 * KL(teacher_T || student_T)

where ``_T`` is the softmax at temperature T (T^2 keeps the soft term's gradient scale
independent of T). Samples without a hard label (``gt_label`` < 0: unlabelled X-rays the
teacher scored) only contribute the soft term. At test time the student is a plain
``ImageClassifier``: its checkpoint loads into a config with ``type='ImageClassifier'``.

Offline targets only say what the teacher thinks of the clean training images, where it agrees
with the labels. With ``teacher=dict(config=..., checkpoint=...)`` the teacher instead scores
each augmented batch the student sees ("function matching", Beyer et al. 2022, "Knowledge
distillation: a good teacher is patient and consistent"): its answers on shifted, blurred,
erased X-rays are where it differs from the labels. An ensemble teacher's members then all read
the student's input (its preprocessing, not their own views). The teacher is frozen and kept
out of the student's state dict, so the checkpoint holds the student alone. A student at a
larger input than the teacher's (``teacher=dict(..., input_size=128)``) hands the teacher its
batch resized to the size the teacher was trained at, so the teacher answers as it would in use.
"""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

__all__ = ['DistillImageClassifier', 'soft_target_kl', 'student_config', 'tempered_teacher']

TEACHER_KEY = 'teacher_prob_tb'
# DistillImageClassifier's arguments that only training reads
DISTILL_ARGS = ('temperature', 'soft_weight', 'tb_index', 'teacher')


def student_config(model: dict) -> dict:
    """The model config a trained student is used with: a plain ``ImageClassifier`` of the same
    networks (all its checkpoint holds), so that loading it never loads the teacher."""
    if model.get('type') != 'DistillImageClassifier':
        return model
    return type(model)({**{k: v for k, v in model.items() if k not in DISTILL_ARGS},
                        'type': 'ImageClassifier'})


def tempered_teacher(prob_tb: torch.Tensor, temperature: float, tb_index: int = 1,
                     eps: float = 1e-6) -> torch.Tensor:
    """N x 2 teacher distribution at ``temperature`` from its P(TB) (N)."""
    prob_tb = prob_tb.clamp(eps, 1 - eps)
    log_probs = torch.stack([torch.log1p(-prob_tb), torch.log(prob_tb)], dim=1)
    if tb_index == 0:
        log_probs = log_probs.flip(1)
    return torch.softmax(log_probs / temperature, dim=1)


def soft_target_kl(logits: torch.Tensor, teacher_prob_tb: torch.Tensor, temperature: float,
                   tb_index: int = 1) -> torch.Tensor:
    """Mean T^2 * KL(teacher_T || student_T) over the batch (0 when they agree)."""
    target = tempered_teacher(teacher_prob_tb.to(logits), temperature, tb_index)
    log_student = F.log_softmax(logits.float() / temperature, dim=1)
    return F.kl_div(log_student, target, reduction='batchmean') * temperature ** 2


def _normalisation(model) -> tuple:
    """(mean, std) of one view's 3 channels as the model's data preprocessor applies them."""
    pre = model.data_preprocessor
    return tuple(None if getattr(pre, name, None) is None
                 else tuple(getattr(pre, name).flatten()[:3].tolist()) for name in ('mean', 'std'))


@MODELS.register_module()
class DistillImageClassifier(ImageClassifier):
    """An ``ImageClassifier`` trained on hard labels and a teacher's soft P(TB).

    Args:
        temperature: softens both distributions (1: the teacher's own probabilities).
        soft_weight: weight of the soft term in [0, 1]; 1 - soft_weight goes to the hard labels.
        tb_index: index of the tuberculosis class in the head's output.
        teacher: None (targets from the samples' ``teacher_prob_tb``), or
            ``dict(config=..., checkpoint=...)`` of a model that scores every training batch
            online; it must normalise its input as the student does. An ``input_size`` key
            resizes the batch to that square size before the teacher scores it.
        **kwargs: ``ImageClassifier``'s (backbone, neck, head, data_preprocessor, ...).
    """

    def __init__(self, *args, temperature: float = 2.0, soft_weight: float = 0.5,
                 tb_index: int = 1, teacher: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        if temperature <= 0 or not 0 <= soft_weight <= 1:
            raise ValueError('temperature must be > 0 and soft_weight in [0, 1], got '
                             f'{temperature} and {soft_weight}')
        self.temperature, self.soft_weight = float(temperature), float(soft_weight)
        self.tb_index = int(tb_index)
        # a plain attribute, not a submodule: not trained, not saved, not wrapped by DDP
        self.__dict__['online_teacher'] = self._load_teacher(teacher) if teacher else None
        self.teacher_input_size = (teacher or {}).get('input_size')

    def _load_teacher(self, teacher: dict) -> torch.nn.Module:
        from mmpretrain.apis import get_model
        model = get_model(teacher['config'], pretrained=teacher['checkpoint'], device='cpu')
        model.eval().requires_grad_(False).to(memory_format=torch.channels_last)
        if _normalisation(model) != _normalisation(self):
            raise ValueError('the online teacher normalises its input differently from the '
                             f'student ({_normalisation(model)} vs {_normalisation(self)}): '
                             'it would score different pixels')
        return model

    @torch.no_grad()
    def online_teacher_probs(self, inputs: torch.Tensor) -> torch.Tensor:
        """The online teacher's P(TB) (N) on the student's normalised batch."""
        teacher = self.online_teacher.to(inputs.device)
        size = self.teacher_input_size
        if size and tuple(inputs.shape[-2:]) != (size, size):
            inputs = F.interpolate(inputs.float(), size=(size, size), mode='bilinear',
                                   align_corners=False, antialias=True).to(inputs.dtype)
        if hasattr(teacher, 'mean_probability'):  # SeedEnsembleClassifier
            probs = teacher.mean_probability(inputs, views=False)
        else:
            probs = torch.softmax(teacher(inputs, mode='tensor').float(), dim=1)
        return probs[:, self.tb_index]

    @staticmethod
    def teacher_probs(data_samples: List[DataSample]) -> torch.Tensor:
        missing = [i for i, s in enumerate(data_samples) if TEACHER_KEY not in s]
        if missing:
            raise KeyError(f'{len(missing)} samples carry no {TEACHER_KEY}: train on a '
                           "SoftTargetDataset and pack it with PackInputs(algorithm_keys="
                           f"('{TEACHER_KEY}',))")
        return torch.tensor([float(s.get(TEACHER_KEY)) for s in data_samples])

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> dict:
        if data_samples and 'gt_score' in data_samples[0]:
            raise ValueError('batch augmentation (mixup/cutmix) mixes hard labels but not '
                             'the teacher targets; leave it out of a distillation config')
        logits = self.head(self.extract_feat(inputs))
        teacher = (self.online_teacher_probs(inputs) if self.online_teacher is not None
                   else self.teacher_probs(data_samples).to(logits.device))
        losses = dict(loss_soft=self.soft_weight * soft_target_kl(
            logits, teacher, self.temperature, self.tb_index))
        labels = torch.cat([s.gt_label for s in data_samples]).to(logits.device)
        labelled = labels >= 0
        if labelled.any():
            hard = self.head.loss_module(logits[labelled], labels[labelled],
                                         avg_factor=int(labelled.sum()))
        else:
            hard = logits.sum() * 0  # keeps the graph (and DDP) whole
        losses['loss_hard'] = (1 - self.soft_weight) * hard
        return losses
