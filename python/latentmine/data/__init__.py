"""Datasets on disk, splits, import of your own data and PNG export.

>>> from latentmine.data import save_dataset, load_dataset, split
>>> # save_dataset("data/cohort", images, masks, pixel_size_mm=0.062)
>>> # parts = split(load_dataset("data/cohort"), fractions=(0.1, 0.7, 0.2), seed=0)
"""
from .chunked import ChunkedArray
from .dataset import Dataset, append, load_dataset, save_dataset
from .export import LABEL_COLOURS, contact_sheet, export_png
from .importing import import_arrays, import_folder
from .splits import DEFAULT_FRACTIONS, split, subset

__all__ = [
    "ChunkedArray", "Dataset", "append", "load_dataset", "save_dataset", "split", "subset",
    "import_arrays", "import_folder", "export_png", "contact_sheet", "LABEL_COLOURS", "DEFAULT_FRACTIONS",
]
