"""benchgen: generate simulation-checked benchmark datasets of physics puzzles for engineering agents."""

__version__ = "0.1.0"
