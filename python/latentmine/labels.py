"""Segmentation label codes: the one definition every module uses."""
from enum import IntEnum


class Label(IntEnum):
    """Codes of an IVUS vessel-wall segmentation mask.

    ``OUTSIDE`` and ``LUMEN`` carry no material: the outer boundary is
    traction-free and the lumen is a cavity under blood pressure. The other
    codes are wall tissues with their own elastic constants
    (see :mod:`latentmine.fea.materials`).
    """

    OUTSIDE = 0  #: no material, traction-free
    LUMEN = 1    #: pressurised cavity, no material
    FIBROUS = 2  #: fibrous plaque and healthy wall
    LIPID = 3    #: lipid or necrotic core
    CALCIUM = 4  #: calcified plaque


#: Labels that carry material, in code order.
TISSUES = (Label.FIBROUS, Label.LIPID, Label.CALCIUM)
#: Number of label codes (the size of a one-hot or logit axis over labels).
NUM_LABELS = len(Label)
