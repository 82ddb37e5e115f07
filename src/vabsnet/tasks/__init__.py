"""Downstream tasks as plug-ins (see ``base.Task``), registered in :mod:`vabsnet.registry`. Importing this
package loads no task (and no torch)."""

from vabsnet.registry import TASKS, config_class, task_class


def __getattr__(name: str) -> type:  # ``from vabsnet.tasks import BindingSiteTask``
    for key, path in TASKS.items():
        if path.endswith(f":{name}"):
            return task_class(key)
    raise AttributeError(name)


__all__ = ["TASKS", "config_class", "task_class"]
