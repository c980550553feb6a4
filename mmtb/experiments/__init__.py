"""Running sets of configs (the paper's ablation grid) and tabulating their results."""
from .ablation import AblationRun, run_grid
from .table import results_table

__all__ = ['AblationRun', 'results_table', 'run_grid']
