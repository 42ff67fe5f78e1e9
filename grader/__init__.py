"""An autograder for deep-learning assignments: sandboxed student code, hypothesis-driven checks,
YAML rubrics, Gradescope output. See README.md."""
__version__ = "0.1.0"
