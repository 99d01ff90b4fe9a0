"""What is fitted: the family descriptors and the objectives built on them."""

from .families import (FAMILIES, FISHER_KINDS, MODELS, Family, check_labels, check_model,
                       get_family, softmax)
from .glm import Evaluation, GLMObjective

__all__ = ["Evaluation", "FAMILIES", "FISHER_KINDS", "Family", "GLMObjective", "MODELS",
           "check_labels", "check_model", "get_family", "softmax"]
