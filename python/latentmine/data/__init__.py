"""Datasets on disk, splits, import of your own data and PNG export.

Your own pullbacks come in from DICOM (:func:`import_dicom`), NIfTI
(:func:`import_nifti`), contour files (``contours=`` of both, see
:mod:`.contours`) and MONAI-style lists (:func:`from_monai_list`); stress
labels go back out as NIfTI and DICOM (:func:`export_nifti`,
:func:`export_dicom`). pydicom and nibabel are the ``io`` extra and are
imported only when those functions run.

>>> from latentmine.data import save_dataset, load_dataset, split
>>> # save_dataset("data/cohort", images, masks, pixel_size_mm=0.062)
>>> # parts = split(load_dataset("data/cohort"), fractions=(0.1, 0.7, 0.2), seed=0)
"""
from .chunked import ChunkedArray
from .contours import read_contours
from .dataset import Dataset, append, load_dataset, save_dataset
from .dicom import import_dicom
from .export import LABEL_COLOURS, contact_sheet, export_png
from .export_medical import export_dicom, export_nifti
from .importing import import_arrays, import_folder
from .monai import from_monai_list, to_monai_list
from .nifti import import_nifti
from .splits import DEFAULT_FRACTIONS, split, subset

__all__ = [
    "ChunkedArray", "Dataset", "append", "load_dataset", "save_dataset", "split", "subset",
    "import_arrays", "import_folder", "import_dicom", "import_nifti", "read_contours", "from_monai_list",
    "to_monai_list", "export_nifti", "export_dicom", "export_png", "contact_sheet", "LABEL_COLOURS", "DEFAULT_FRACTIONS",
]
