"""The command line's flags: one sub-parser per command (handlers: :mod:`vabsnet.cli.commands`)."""

from __future__ import annotations

import argparse

from vabsnet import __version__
from vabsnet.config import MASKS
from vabsnet.constants import ATOM_BUDGET, MAX_CHAIN_RESIDUES
from vabsnet.data.annotations import CUTOFFS
from vabsnet.registry import TASKS


def _add_training(p: argparse.ArgumentParser) -> None:
    p.add_argument("--devices", type=int, default=1, help="processes per node (DDP: gloo on CPU, NCCL on GPUs)")
    p.add_argument("--num-nodes", type=int, help="machines in the job (train.num_nodes; launch with srun or "
                   "torchrun, one launcher per node: see the README)")
    p.add_argument("--accelerator", default="auto", choices=["auto", "cpu", "cuda", "gpu"])
    p.add_argument("--precision", choices=["32", "bf16-mixed"], help="default: the preset's train.precision")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--preset", help="tiny (default) | base | paper")
    p.add_argument("--config", metavar="FILE", help="a whole config as JSON (e.g. a run's config.json) instead "
                   "of --preset; flags and --set apply on top")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="config override, e.g. --set data.crop_residues=128 (repeatable)")
    p.add_argument("--quiet", action="store_true")


def _add_inference(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA when available) | cpu | cuda[:N]")
    p.add_argument("--precision", choices=["32", "bf16-mixed"], help="default: the model's train.precision")
    p.add_argument("--atom-budget", type=int, default=ATOM_BUDGET, help="atoms per batch of chains")


def _add_lm_input(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lm-features", metavar="DIR",
                   help="esm-extract output with the chains' language-model features (labels <entry>_<chain>, "
                   "or the same sequence); needed by models trained with encoder.lm_dim > 0")


def _add_max_chain_residues(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-chain-residues", type=int, default=MAX_CHAIN_RESIDUES,
                   help="a file with a longer chain is skipped with that reason")
    p.add_argument("--shard", metavar="K/N", help="only inputs K, K+N, K+2N, ... of the sorted input list "
                   "(K = 0..N-1, e.g. a SLURM array index): N jobs cover every input once")

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vabsnet", description="Bi-level protein representation learning.")
    parser.add_argument("--version", action="version", version=f"vabsnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="the main job: prepare the bundled corpus, pre-train span/single/residue/"
                       "residue-only encoders (and span with the vector edge encoder), fine-tune binding "
                       "sites from each and from scratch, report")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--budget", choices=["small", "full"], default="small",
                   help="small: about 8 minutes on 2 CPU cores; full: about 35 minutes, 5 seeds")
    p.add_argument("--workers", type=int, default=2, help="processes for preparing the corpus")
    p.add_argument("--jobs", type=int, help="training runs at once, each in its own process with cores/jobs "
                   "threads (default: 2 on a machine with 2 or more cores; 1 shows step bars)")
    p.add_argument("--ablations", action="store_true",
                   help="also span with the reference code's dense distance loss and with raw-SASA L1 (longer)")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("prepare", help="read structure files into a dataset store (resumable)")
    p.add_argument("inputs", nargs="+", help="files, directories, list files (.txt), or 'bundled'")
    p.add_argument("--out", required=True, help="store directory")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--chains-per-entry", choices=["all", "first"], default="all")
    p.add_argument("--min-residues", type=int, default=1)
    _add_max_chain_residues(p)
    p.add_argument("--lm-features", metavar="DIR", help="attach language-model features from esm-extract output "
                   "(labels <entry>_<chain>, or the same sequence); chains without matching ones are removed")
    p.add_argument("--lm-layer", type=int, help="layer to read from the esm-extract files (default: the last)")
    p.add_argument("--modelled-sidechains", action="store_true", help="flag every record's side chains as "
                   "modelled, not experimental (scripts/structuredb_fullatom.py output)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("lm-features", help="attach ESM-2 language-model features to a store (fair-esm, local "
                       "weights), or import esm-extract output; resumable")
    p.add_argument("store")
    p.add_argument("--model", default="esm2_t33_650M_UR50D",
                   help="fair-esm model name (read from its local cache, never downloaded) or a .pt path")
    p.add_argument("--from", dest="source", metavar="DIR", help="import esm-extract output instead of computing")
    p.add_argument("--fasta", metavar="FILE", help="only write the store's sequences as FASTA for esm-extract")
    p.add_argument("--layer", type=int, help="representation layer (default: the last; the paper uses 33 of 33)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available) | cpu | cuda[:N]")
    p.add_argument("--max-tokens", type=int, default=4096, help="tokens per ESM batch")
    p.add_argument("--overwrite", action="store_true", help="recompute chains that already have features")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("go-benchmark", help="GO labels for a store's chains from Debian's metastudent-data "
                       "(MMseqs2 mapping to Swiss-Prot, propagation, identity splits), DeepFRI layout")
    p.add_argument("store")
    p.add_argument("--out", required=True, help="folder for nrPDB-GO_annot.tsv, split lists, test CSV")
    p.add_argument("--source", default="/usr/share/metastudent-data/dataset_201401")
    p.add_argument("--min-train", type=int, default=10, help="keep terms on at least this many train chains")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("split", help="sequence-identity train/valid/test split of a store (MMseqs2)")
    p.add_argument("store")
    p.add_argument("--identity", type=float, default=0.3)
    p.add_argument("--fractions", default="0.8,0.1,0.1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hold-out", metavar="DIR",
                   help="a DeepFRI-layout benchmark (e.g. from go-benchmark): clusters holding any of its valid "
                   "or test chains go to test whole, so pre-training on train never sees them")

    p = sub.add_parser("pretrain", help="pre-train an encoder (SMPC span masking or an ablation); resumable")
    p.add_argument("--store", required=True)
    p.add_argument("--mask", choices=MASKS,
                   help="span (SMPC, default); single: scattered residues reduced to a noised CA, as span; "
                   "residue: type only, atoms kept (leaks); residue-only: CA atoms only")
    p.add_argument("--out", required=True, help="run directory")
    _add_training(p)

    p = sub.add_parser("finetune", help="train a task head (binding-site, ec, go-*) on a store's splits")
    p.add_argument("--task", default="binding-site", choices=sorted(TASKS))
    p.add_argument("--labels", help="DeepFRI/TorchDrug folder (nrPDB-EC_annot.tsv / nrPDB-GO_annot.tsv, split "
                   "lists, test CSV); without it, ec uses the EC numbers in the structure headers")
    p.add_argument("--test-cutoff", type=float, choices=CUTOFFS,
                   help="DeepFRI test chains kept below this identity to train")
    p.add_argument("--store", required=True)
    p.add_argument("--encoder", "--init", dest="encoder",
                   help="a pre-trained RUN/encoder.safetensors, RUN directory or shipped encoder's name, e.g. "
                   "tiny-span (random initialisation when absent)")
    p.add_argument("--freeze-encoder", action="store_true")
    p.add_argument("--out", required=True)
    _add_training(p)

    p = sub.add_parser("evaluate", help="metrics of a fine-tuned run on a split")
    p.add_argument("--run", required=True)
    p.add_argument("--store", required=True)
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    _add_inference(p)

    p = sub.add_parser("predict", help="predictions of a fine-tuned model")
    p.add_argument("task", choices=sorted(TASKS))
    p.add_argument("--run", "--model", "--checkpoint", dest="run", help="a fine-tuned run directory or a shipped "
                   "model's name (default: the shipped model for the task; `vabsnet models` lists them)")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--out", required=True)
    _add_max_chain_residues(p)
    _add_inference(p)
    p.add_argument("--quiet", action="store_true")
    _add_lm_input(p)

    p = sub.add_parser("pockets", help="ranked binding pockets (CSV + PDB with pocket pseudo-atoms) from a "
                       "fine-tuned binding-site model")
    p.add_argument("--run", "--model", "--checkpoint", dest="run", help="a fine-tuned binding-site run directory "
                   "or a shipped model's name (default: the shipped binding-site model)")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--method", choices=["cavities", "atoms"],
                   help="cavities (default): buried empty space found on a grid, ranked by the pocket scorer on "
                   "its geometry and the model's atom scores; atoms: clusters of the atoms the model scores "
                   "highest (the default when --min-probability or --top-fraction is given)")
    cut = p.add_mutually_exclusive_group()
    cut.add_argument("--min-probability", type=float,
                     help="atoms: atoms at or above it form pockets (default: the run's calibrated threshold)")
    cut.add_argument("--top-fraction", type=float,
                     help="atoms: instead, each chain's top fraction of atoms by probability (e.g. 0.05)")
    p.add_argument("--link", type=float, default=3.0, help="atoms: single-linkage distance between pocket atoms (A)")
    p.add_argument("--min-atoms", type=int, default=5, help="atoms: smallest pocket, in atoms")
    _add_max_chain_residues(p)
    _add_inference(p)
    p.add_argument("--quiet", action="store_true")
    _add_lm_input(p)

    p = sub.add_parser("dock", help="AutoDock Vina in the boxes of the top predicted pockets (needs the dock extra)")
    p.add_argument("receptor", help="a structure file (its protein chains are the receptor)")
    ligand = p.add_mutually_exclusive_group(required=True)
    ligand.add_argument("--ligand", help="an SDF file (first molecule)")
    ligand.add_argument("--smiles", help="a SMILES string (one conformer generated with RDKit, seeded)")
    p.add_argument("--out", required=True)
    p.add_argument("--run", "--model", "--checkpoint", dest="run", help="a fine-tuned binding-site run or a shipped "
                   "model's name: dock in its top-k pockets (default: the shipped binding-site model)")
    p.add_argument("--top-k", type=int, default=3, help="predicted pockets to dock in (0: only --box / --blind)")
    p.add_argument("--min-probability", type=float, help="pockets as atom clusters at this probability instead "
                   "of the default cavities (see `vabsnet pockets --method`)")
    p.add_argument("--box", help="also dock in this box: centre x,y,z then size x,y,z (A)")
    p.add_argument("--blind", action="store_true", help="also dock in a box around the whole protein")
    p.add_argument("--exhaustiveness", type=int, default=8)
    p.add_argument("--poses", type=int, default=9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", type=int, default=0, help="Vina threads (0: all)")
    p.add_argument("--device", default="auto", help="for the pocket model")

    p = sub.add_parser("models", help="the models shipped with vabsnet: name, kind, headline figures, weights hash")
    p.add_argument("--json", action="store_true", help="the whole model cards as JSON")

    p = sub.add_parser("embed", help="per-residue, per-atom and per-protein embeddings of structure files")
    p.add_argument("--encoder", "--model", "--checkpoint", dest="encoder",
                   help="a pre-trained RUN/encoder.safetensors, the RUN directory (config.json beside it), or a "
                   "shipped encoder's name (default: the shipped encoder; `vabsnet models` lists them)")
    p.add_argument("inputs", nargs="+", help="files, directories, list files (.txt), or 'bundled'")
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=["pt", "h5"], default="pt")
    _add_max_chain_residues(p)
    _add_inference(p)
    p.add_argument("--quiet", action="store_true")
    _add_lm_input(p)
    return parser
