"""Benchmark support, apart from the models' path: GO labels and splits for `vabsnet go-benchmark`
(``go_labels``), the GO baselines (``go_baselines``: naive, sequence transfer, composition probe), the pocket
criteria (``pockets``: DCA, DVO, ligand selection, random patches) and re-docking helpers (``redock``).
Nothing below this package imports it."""
