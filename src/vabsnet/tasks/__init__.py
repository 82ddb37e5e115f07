"""Downstream tasks as plug-ins (see ``base.Task``)."""

from vabsnet.tasks.binding_site import BindingSiteTask

TASKS = {BindingSiteTask.name: BindingSiteTask}

__all__ = ["TASKS", "BindingSiteTask"]
