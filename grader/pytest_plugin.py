"""A pytest plugin: the rubric's items as a test suite, with the verdicts and messages of `grader check`.

    pytest --solution solution.py --assignment mlp            # public items, one test each
    pytest --solution solution.py --assignment mlp --hidden   # every item (course staff)
    pytest --solution solution.py --assignment mlp -k backward -x --lf

Inert unless --solution is given. Then pytest collects only the solution file, as one test per rubric
item (`solution.py::backward_relu`); the items share one sandboxed worker, as `grader check` does, so
`-k`, `-x` and `--lf` select which items run and nothing else changes.
"""
from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("grader", "grade a solution.py against a rubric (the autograder's checks)")
    group.addoption("--solution", type=Path, help="the solution.py to grade; turns the plugin on")
    group.addoption("--assignment", help="the assignment's name (see `grader list`)")
    group.addoption("--rubric", type=Path, help="a rubric YAML file instead of the assignment's own")
    group.addoption("--hidden", action="store_true", help="run the hidden items too (course staff)")
    group.addoption("--data-root", type=Path, help="folder holding the data sets")


def _solution(config) -> Path | None:
    path = config.getoption("--solution", default=None)
    return Path(path).resolve() if path else None


def pytest_configure(config):
    solution = _solution(config)
    if solution is None:
        return
    if not solution.is_file():
        raise pytest.UsageError(f"--solution {solution}: no such file. Pass the path of your solution.py.")
    if not (config.getoption("--assignment") or config.getoption("--rubric")):
        raise pytest.UsageError("--solution needs --assignment NAME (see `grader list`) or --rubric FILE")
    config.args[:] = [str(solution)]  # collect the solution only, wherever pytest was started
    config._grader_state = {"grading": None}


def pytest_collect_file(file_path, parent):
    solution = _solution(parent.config)
    if solution is not None and Path(file_path).resolve() == solution:
        return RubricFile.from_parent(parent, path=Path(file_path))
    return None


def pytest_unconfigure(config):
    state = getattr(config, "_grader_state", None)
    if state and state["grading"] is not None:
        state["grading"].close()


class RubricFile(pytest.File):
    def collect(self):
        from . import api
        from .rubric import RubricError

        config = self.config
        try:
            full = api._rubric(config.getoption("--assignment"), config.getoption("--rubric"))
        except RubricError as exc:
            raise pytest.UsageError(str(exc)) from None
        rubric = full if config.getoption("--hidden") else full.select(public_only=True)
        config._grader_state.update(rubric=rubric, hidden=len(rubric.items) < len(full.items))
        for item in rubric.items:
            yield RubricItem.from_parent(self, name=item.id, rubric_item=item)


class ItemFailed(Exception):
    """A rubric item that did not pass; carries its result for the report."""

    def __init__(self, result):
        super().__init__(result.message)
        self.result = result


class RubricItem(pytest.Item):
    def __init__(self, *, rubric_item, **kwargs):
        super().__init__(**kwargs)
        self.rubric_item = rubric_item
        self.user_properties.append(("max_points", rubric_item.points))

    def _grading(self):
        from .runner import Grading

        state = self.config._grader_state
        if state["grading"] is None:
            state["grading"] = Grading(state["rubric"], self.path, data_root=self.config.getoption("--data-root"),
                                       hidden_items_exist=state["hidden"])
        return state["grading"]

    def runtest(self):
        result = self._grading().run(self.rubric_item)
        self.user_properties.append(("points", result.points))
        if not result.passed:
            raise ItemFailed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ItemFailed):
            r = excinfo.value.result
            text = f"{r.id}: {r.name} ({r.points:g}/{r.max_points:g})\n{r.message}"
            if r.output.strip():
                text += "\nYour code printed:\n" + "\n".join("  | " + line for line in r.output.rstrip().splitlines())
            return text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.rubric_item.id}: {self.rubric_item.name}"
