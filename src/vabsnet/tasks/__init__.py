"""Downstream tasks as plug-ins (see ``base.Task``): name -> constructor ``(TaskConfig, Store | None)``."""

from vabsnet.tasks.binding_site import BindingSiteTask
from vabsnet.tasks.function import FunctionTask

TASKS = {BindingSiteTask.name: BindingSiteTask, "ec": FunctionTask, "go-mf": FunctionTask,
         "go-bp": FunctionTask, "go-cc": FunctionTask}

__all__ = ["TASKS", "BindingSiteTask", "FunctionTask"]
