"""Rebuild coach/grading/background.npz from the shipped packs (run after editing a pack: `make background`)."""

from coach.api import write_shipped_background
from coach.grading.embedders import make_embedder

if __name__ == "__main__":
    print(write_shipped_background(make_embedder("numpy")))
