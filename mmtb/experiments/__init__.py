"""Running sets of configs (the paper's ablation grid) and tabulating their results."""
from .ablation import AblationRun, external_set, run_grid
from .table import results_table

__all__ = ['AblationRun', 'external_set', 'results_table', 'run_grid']
