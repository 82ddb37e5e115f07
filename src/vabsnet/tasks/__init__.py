"""Downstream tasks as plug-ins (see ``base.Task``). The registry maps a task name to ``module:Class``;
adding a task is its module and one line here. Importing this package loads no task (and no torch), so
the command line can list the names quickly."""

import importlib

TASKS: dict[str, str] = {
    "binding-site": "vabsnet.tasks.binding_site:BindingSiteTask",
    "ec": "vabsnet.tasks.function:FunctionTask",
    "go-mf": "vabsnet.tasks.function:FunctionTask",
    "go-bp": "vabsnet.tasks.function:FunctionTask",
    "go-cc": "vabsnet.tasks.function:FunctionTask",
}


def task_class(name: str) -> type:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available: {sorted(TASKS)}")
    module, _, cls = TASKS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def config_class(name: str) -> type:
    """The config section of a task (a ``vabsnet.config.TaskConfig`` subclass its module defines)."""
    return task_class(name).config_class


def __getattr__(name: str) -> type:  # ``from vabsnet.tasks import BindingSiteTask`` still works
    for path in TASKS.values():
        if path.endswith(f":{name}"):
            return task_class(next(k for k, v in TASKS.items() if v == path))
    raise AttributeError(name)


__all__ = ["TASKS", "config_class", "task_class"]
