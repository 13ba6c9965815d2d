#ifndef CONCORD_OPENMM_CONCORDFORCE_H_
#define CONCORD_OPENMM_CONCORDFORCE_H_

// ConcordForce: a Concord learned potential as an OpenMM Force.

#include "concord.h"
#include "openmm/Force.h"

#include <memory>
#include <string>
#include <vector>

namespace concord {
class Model;
}

namespace ConcordPlugin {

/** A committee's disagreement on one structure (ConcordForce::computeDeviation). */
struct ConcordDeviation {
    /** Standard deviation of the energy over the models, kJ/mol. */
    double energyStd = 0.0;
    /** Largest, smallest and mean per-atom force deviation, kJ/mol/nm. */
    double maxForceDeviation = 0.0, minForceDeviation = 0.0, avgForceDeviation = 0.0;
    /** Per-atom force deviation sqrt(mean_k |F_i^k - mean F_i|^2), kJ/mol/nm, per force atom. */
    std::vector<double> atomForceDeviations;
};

/**
 * The energy and forces of a Concord model (a learned potential trained in eV and Å) on the
 * particles of a System, in OpenMM's units: positions in nm, energy in kJ/mol, forces in
 * kJ/mol/nm. Units are converted at the boundary: positions and box vectors x10 (nm -> Å),
 * energies x96.4853321233 (eV -> kJ/mol), forces x964.853321233 (eV/Å -> kJ/mol/nm).
 *
 * By default the force acts on every particle of the System, in System order, and needs one
 * atomic number per particle; setParticles() restricts it to some particles (a molecule
 * treated by the model inside a System whose other particles have other forces). The model file is loaded once, when the force is created (errors such
 * as a missing file or an element the model does not know are thrown then), and every Context
 * made from the System shares it. The energy is computed on the host by the Concord library
 * for every platform (Reference, CPU, CUDA, OpenCL); force groups work as for any Force.
 */
class ConcordForce : public OpenMM::Force {
public:
    /**
     * Creates the force and loads the model.
     *
     * @param modelPath      path of a Concord model file (.concord)
     * @param atomicNumbers  the atomic number of each particle of the System, in System order
     *                       (or of the particles chosen with setParticles())
     * @param precision      floating-point precision of the model: 32 (fast, for dynamics) or
     *                       64 (for comparisons and tight minimisation)
     * @param device         where the model runs: "cpu", "cuda" or "cuda:N"
     * @throws OpenMM::OpenMMException when the file cannot be loaded, an atomic number is not
     *         an element of the model, or precision or device is invalid
     */
    ConcordForce(const std::string& modelPath, const std::vector<int>& atomicNumbers,
                 int precision = 32, const std::string& device = "cpu");
    /**
     * Creates the force from element symbols ("H", "C", ...) instead of atomic numbers; the
     * other parameters are those of the first constructor.
     *
     * @throws OpenMM::OpenMMException for a symbol that is not a chemical element, and for the
     *         reasons of the first constructor
     */
    ConcordForce(const std::string& modelPath, const std::vector<std::string>& elements,
                 int precision = 32, const std::string& device = "cpu");
    /** The model file this force was created with. */
    const std::string& getModelPath() const { return modelPath; }
    /** The atomic number of each atom (System order, or the order of getParticles()). */
    const std::vector<int>& getAtomicNumbers() const { return atomicNumbers; }
    /** The number of atoms the model sees (one per atomic number). */
    int getNumParticles() const { return static_cast<int>(atomicNumbers.size()); }
    /**
     * Restricts the force to some particles of the System: `particles[i]` is the System index
     * of the atom with atomic number `getAtomicNumbers()[i]`. The other particles feel no
     * force from the model and do not affect its energy. An empty list (the default) means
     * every particle of the System, which must then have one particle per atomic number.
     *
     * @throws OpenMM::OpenMMException when the list is not empty and its length differs from
     *         the number of atomic numbers, or it holds a negative or repeated index (an index
     *         beyond the System is reported when a Context is created)
     */
    void setParticles(const std::vector<int>& particles);
    /** The System indices of the model's atoms; empty when the force acts on all particles. */
    const std::vector<int>& getParticles() const { return particles; }
    /** The model's floating-point precision: 32 or 64. */
    int getPrecision() const { return precision; }
    /** The device the model runs on ("cpu", "cuda", "cuda:N"). */
    const std::string& getDevice() const { return device; }
    /** The atomic numbers of the elements the model knows. */
    std::vector<int> getModelElements() const;
    /**
     * The model's receptive field in nm: an atom's energy depends on the atoms within this
     * distance. A periodic box should be wider than twice this for a bulk system to see no
     * image of itself twice (smaller boxes are still computed correctly, with more images).
     */
    double getReceptiveField() const;
    /**
     * The model file's checksum (`sha256:...` of its parameters and metadata), empty for a
     * format-1 file. Stored when the force is serialised; deserialisation refuses a model file
     * whose checksum differs (the file at the stored path was replaced).
     */
    std::string getModelChecksum() const;
    /**
     * Sets whether the System's periodic box is used: the box vectors (nm) are passed to the
     * model as its cell (Å) and every pair interacts through its periodic images.
     */
    void setUsesPeriodicBoundaryConditions(bool periodic) { this->periodic = periodic; }
    /** Whether the System's periodic box is used (default false: an isolated system). */
    bool usesPeriodicBoundaryConditions() const override { return periodic; }
    /**
     * Adds a committee member: another model file for the same atoms, used only by
     * computeDeviation (the force's energy and forces stay those of the first model).
     *
     * @throws OpenMM::OpenMMException when the file cannot be loaded or lacks an element
     */
    void addCommitteeModel(const std::string& path);
    /** Number of committee members added (0: no committee). */
    int getNumCommitteeModels() const { return static_cast<int>(committee.size()); }
    /**
     * The model file of committee member `index` (0-based, as added).
     *
     * @throws OpenMM::OpenMMException when index is not in [0, getNumCommitteeModels())
     */
    const std::string& getCommitteeModelPath(int index) const;
    /** The checksum of committee member `index`'s model file (as getModelChecksum()). */
    std::string getCommitteeModelChecksum(int index) const;
    /**
     * The committee's disagreement (the first model and every member) at the Context's current
     * positions, as DeePMD-kit defines model deviation; OpenMM units.
     *
     * @return energyStd (kJ/mol); maxForceDeviation, minForceDeviation, avgForceDeviation and
     *         atomForceDeviations (one per force atom), kJ/mol/nm
     * @throws OpenMM::OpenMMException without committee members, or for Concord's errors
     */
    ConcordDeviation computeDeviation(OpenMM::Context& context) const;
    /** The loaded model shared with every Context (for the force's implementation). */
    const std::shared_ptr<const concord::Model>& getModel() const { return model; }

    /** Energy conversion factor: 1 eV in kJ/mol (Concord's CONCORD_KJ_PER_MOL_PER_EV). */
    static constexpr double KJ_PER_MOL_PER_EV = CONCORD_KJ_PER_MOL_PER_EV;
    /** Length conversion factor: 1 nm in Å (CONCORD_ANGSTROM_PER_NM). */
    static constexpr double ANGSTROM_PER_NM = CONCORD_ANGSTROM_PER_NM;

protected:
    OpenMM::ForceImpl* createImpl() const override;

private:
    std::string modelPath;
    std::vector<int> atomicNumbers;
    std::vector<int> particles;
    int precision;
    std::string device;
    bool periodic = false;
    std::shared_ptr<const concord::Model> model;
    std::vector<std::shared_ptr<const concord::Model>> committee;
    std::vector<std::string> committeePaths;
};

}  // namespace ConcordPlugin

#endif  // CONCORD_OPENMM_CONCORDFORCE_H_
