"""Data preparation: turning downloaded dataset folders into the annotation files configs load.

Run once, before training, by ``tools/dataset_converters/`` (and read by the audit):

* :mod:`~mmtb.data_prep.sources` - one reader per dataset layout, all returning one record form;
* :mod:`~mmtb.data_prep.download` - resumable, checksum-verified downloads of the public sets;
* :mod:`~mmtb.data_prep.dedup` - exact / near-duplicate removal across merged sources;
* :mod:`~mmtb.data_prep.split` - seeded stratified splits and the OpenMMLab annotation files;
* :mod:`~mmtb.data_prep.boxes` - the radiologists' lesion boxes and their fixed patch/eval halves.

What a config builds at training time (dataset classes, transforms) lives in
:mod:`mmtb.datasets`, which may use this package but never the other way round. Nothing is
imported here, so that importing one module does not pull in the others' dependencies
(scikit-learn, OpenCV); import the module you need, e.g.
``from mmtb.data_prep.sources import read_source``.
"""
