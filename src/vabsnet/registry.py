"""The task registry: a task name -> ``module:Class`` of its :class:`vabsnet.tasks.base.Task`. Adding a task
is its module and one line here. A leaf: it imports nothing of vabsnet until a task is asked for, so the
config (which needs a task's config section) and the command line (which lists the names) stay below the
tasks; the task's module is loaded on first use, as a plug-in."""

import importlib
from typing import Any

TASKS: dict[str, str] = {
    "binding-site": "vabsnet.tasks.binding_site:BindingSiteTask",
    "ec": "vabsnet.tasks.function:FunctionTask",
    "go-mf": "vabsnet.tasks.function:FunctionTask",
    "go-bp": "vabsnet.tasks.function:FunctionTask",
    "go-cc": "vabsnet.tasks.function:FunctionTask",
}


def task_class(name: str) -> Any:  # a vabsnet.tasks.base.Task subclass
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available: {sorted(TASKS)}")
    module, _, cls = TASKS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def config_class(name: str) -> Any:  # a vabsnet.config.TaskConfig subclass
    """The config section of a task (a ``vabsnet.config.TaskConfig`` subclass its module defines)."""
    return task_class(name).config_class


__all__ = ["TASKS", "config_class", "task_class"]
