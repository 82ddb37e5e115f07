"""Re-docking support for the pocket benchmark: a crystal ligand as an RDKit molecule with the Chemical
Component Dictionary's bond orders, a fresh conformer that forgets the crystal pose, and the symmetry-aware
pose RMSD."""

from __future__ import annotations

from typing import Any

import numpy as np

from vabsnet.dock import DockError, _need, ligand_molecule
from vabsnet.structure.protein import Ligand


def crystal_ligand(ligand: Ligand) -> object:
    """An RDKit molecule of a crystal ligand (heavy atoms at their crystal coordinates) with bond orders and
    charges from the wwPDB Chemical Component Dictionary (biotite's copy). Atoms are matched by name, or, when
    the file names them otherwise, by graph: bonds from distances, then the template's orders assigned onto
    them (RDKit ``AssignBondOrdersFromTemplate``). Raises :class:`DockError` when neither matches."""
    _, Chem, _ = _need()
    import biotite.structure.info as info
    from biotite.interface.rdkit import to_mol

    try:
        template = info.residue(ligand.name)
    except KeyError:
        raise DockError(f"ligand {ligand.name}: not in the Chemical Component Dictionary") from None
    heavy = template[template.element != "H"]
    names = [str(n) for n in ligand.atom_names]
    try:
        if set(names) >= {str(n) for n in heavy.atom_name}:  # every template atom found by name
            heavy.coord = np.asarray(ligand.coords, np.float64)[[names.index(str(n)) for n in heavy.atom_name]]
            mol = to_mol(heavy)
        else:  # older files name atoms otherwise: bonds from distances, orders from the template's graph
            mol = _by_topology(to_mol(heavy), ligand)
        Chem.SanitizeMol(mol)
        Chem.AssignStereochemistryFrom3D(mol)  # the crystal's chirality, kept through the SMILES
    except Exception as exc:
        raise DockError(f"ligand {ligand.name} {ligand.chain_id}{ligand.res_id}: no CCD match for the crystal "
                        f"atoms ({type(exc).__name__}: {str(exc)[:120]})") from None
    return mol


def _by_topology(template: object, ligand: Ligand) -> object:
    from rdkit import Chem
    from rdkit.Chem import AllChem, rdDetermineBonds

    mol = Chem.RWMol()
    conf = Chem.Conformer(ligand.num_atoms)
    for i, (element, xyz) in enumerate(zip(ligand.elements, np.asarray(ligand.coords, np.float64), strict=True)):
        mol.AddAtom(Chem.Atom(str(element).capitalize()))
        conf.SetAtomPosition(i, xyz.tolist())
    mol.AddConformer(conf)
    rdDetermineBonds.DetermineConnectivity(mol)
    out = AllChem.AssignBondOrdersFromTemplate(template, mol.GetMol())
    for atom in out.GetAtoms():  # hydrogens are implicit, as in the template: no radicals
        atom.SetNoImplicit(False)
        atom.SetNumRadicalElectrons(0)
    return out


def fresh_conformer(mol: Any, seed: int = 0) -> Any:
    """The molecule with hydrogens and a new ETKDG + MMFF conformer (no memory of the input pose)."""
    _, Chem, _ = _need()
    return ligand_molecule(smiles=Chem.MolToSmiles(mol), seed=seed) if mol.GetNumAtoms() else mol


def pose_rmsd(pose: object, reference: object) -> float:
    """Heavy-atom RMSD of a docked pose to the reference pose in place (no superposition), minimised over
    the molecule's symmetries (RDKit ``CalcRMS``)."""
    _, Chem, _ = _need()
    from rdkit.Chem import rdMolAlign

    return float(rdMolAlign.CalcRMS(Chem.RemoveHs(pose), Chem.RemoveHs(reference)))


__all__ = ["crystal_ligand", "fresh_conformer", "pose_rmsd"]
