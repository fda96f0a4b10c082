"""interview-coach: rehearse Responsible-AI and AI-ethics interviews offline.

The public Python API: load the bank, grade an answer, and the types they return.
"""

from coach.api import default_grader, grade
from coach.bank.loader import load_bank
from coach.bank.schema import KeyPoint, Pack, Pitfall, Question
from coach.errors import CoachError, InvalidInput, NotFound, PackError, ProviderError, StorageError
from coach.grading.model import Grade

__version__ = "0.1.0"

__all__ = [
    "CoachError",
    "Grade",
    "InvalidInput",
    "KeyPoint",
    "NotFound",
    "Pack",
    "PackError",
    "Pitfall",
    "ProviderError",
    "Question",
    "StorageError",
    "default_grader",
    "grade",
    "load_bank",
]
