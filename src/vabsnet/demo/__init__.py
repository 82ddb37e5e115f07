"""``vabsnet demo``: pre-training strategies compared end to end on the bundled corpus."""

from vabsnet.demo.run import BUDGETS, STRATEGIES, Budget, run_demo

__all__ = ["BUDGETS", "STRATEGIES", "Budget", "run_demo"]
