"""Analyses of trained models - where their heat maps land (lesion boxes, lung field) - and of
datasets: :mod:`mmtb.analysis.audit`, imported on its own (it needs scikit-learn and matplotlib)."""
from .cam_localization import (
    box_area_fraction,
    energy_in_boxes,
    localization_report,
    lung_field_box,
    mass_outside_lung,
    peak_in_boxes,
    summary_line,
)

__all__ = ['box_area_fraction', 'energy_in_boxes', 'localization_report', 'lung_field_box',
           'mass_outside_lung', 'peak_in_boxes', 'summary_line']
