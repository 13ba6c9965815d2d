// SWIG interface of the Concord OpenMM plugin: the Python module openmmconcord.native
// (ConcordForce and the structure generator), imported by openmmconcord/__init__.py.
%module(package="openmmconcord") native

%include "factory.i"
%import(module="openmm") "swig/OpenMMSwigHeaders.i"
%include "swig/typemaps.i"
%include <std_string.i>
%include <std_vector.i>
%include <stdint.i>

%{
#include "ConcordForce.h"
#include "ConcordStructures.h"
#include "OpenMM.h"
#include "OpenMMAmoeba.h"
#include "OpenMMDrude.h"
#include "openmm/RPMDIntegrator.h"
#include "openmm/RPMDMonteCarloBarostat.h"
%}

namespace std {
%template(IntVector) vector<int>;
%template(StringVector) vector<string>;
%template(DoubleVector) vector<double>;
}

// Atomic numbers, bond indices and orders: any sequence of integers (list, tuple, numpy array).
%fragment("Py_SequenceToVecInt", "header") {
int Py_SequenceToVecInt(PyObject* obj, std::vector<int>& out) {
    if (!PySequence_Check(obj) || PyUnicode_Check(obj)) return SWIG_TypeError;
    const Py_ssize_t n = PySequence_Size(obj);
    out.resize(n);
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* item = PySequence_GetItem(obj, i);
        PyObject* index = item != NULL && !PyUnicode_Check(item) ? PyNumber_Index(item) : NULL;
        Py_XDECREF(item);
        if (index == NULL) {
            PyErr_Clear();
            return SWIG_TypeError;
        }
        out[i] = (int) PyLong_AsLong(index);
        Py_DECREF(index);
    }
    return SWIG_OK;
}
}
%typemap(in, fragment="Py_SequenceToVecInt") const std::vector<int>& (std::vector<int> v) {
    if (!SWIG_IsOK(Py_SequenceToVecInt($input, v))) {
        SWIG_exception_fail(SWIG_TypeError, "in method '$symname', argument $argnum must be a sequence of integers");
    }
    $1 = &v;
}
%typemap(freearg) const std::vector<int>& ""
%typemap(typecheck, precedence=SWIG_TYPECHECK_INT32_ARRAY, fragment="Py_SequenceToVecInt") const std::vector<int>& {
    std::vector<int> v;
    $1 = SWIG_IsOK(Py_SequenceToVecInt($input, v));
}

// ConcordForce(path, ["C", "H", ...]) (element symbols) is told from ConcordForce(path, [6, 1,
// ...]) (atomic numbers) by the type of the first entry.
%typemap(typecheck, precedence=SWIG_TYPECHECK_STRING_ARRAY) const std::vector<std::string>& {
    $1 = 0;
    if (PySequence_Check($input) && !PyUnicode_Check($input) && PySequence_Size($input) > 0) {
        PyObject* first = PySequence_GetItem($input, 0);
        $1 = first != NULL && PyUnicode_Check(first);
        Py_XDECREF(first);
    }
}

// Every C++ exception becomes an openmm.OpenMMException carrying the C++ message.
%exception {
    try {
        $action
    } catch (std::exception& e) {
        PyObject* openmm = PyImport_ImportModule("openmm");
        PyObject* type = openmm ? PyObject_GetAttrString(openmm, "OpenMMException") : NULL;
        PyErr_SetString(type ? type : PyExc_RuntimeError, e.what());
        Py_XDECREF(type);
        Py_XDECREF(openmm);
        SWIG_fail;
    }
}

%feature("docstring") ConcordPlugin::ConcordForce "A Concord learned potential as an OpenMM Force.

ConcordForce(modelPath, atomicNumbers or elements, precision=32, device='cpu')

- modelPath: a Concord model file (.concord), loaded once here and shared by every Context;
- atomicNumbers (ints, e.g. a numpy array) or elements (symbols 'H', 'C', ...): one per
  particle of the System, in System order;
- precision: 32 (fast, for dynamics) or 64 (tight comparisons and minimisation);
- device: 'cpu', 'cuda' or 'cuda:N'.

Positions and box vectors are passed to the model in Angstrom (nm x 10); its energy comes back
in kJ/mol (eV x 96.4853321233) and its forces in kJ/mol/nm (eV/A x 964.853321233). Call
setUsesPeriodicBoundaryConditions(True) to use the System's box as the model's cell. Two atoms
closer than 0.025 nm get an infinite energy and NaN forces. Errors (missing file, unknown
element, particle count differing from the System's) raise openmm.OpenMMException.
setParticles(indices) restricts the force to those System particles (one per atomic number).";

%feature("docstring") ConcordPlugin::generateStructures "generateStructures(modelPath, atomicNumbers, bondFirst, bondSecond, bondOrder, samples=1, seed=0, relax=True, fmax=0.0, precision=64, potentialPath=\"\", formalCharges=[])

Structures of a molecule from its bond graph with a Concord model's structure generator
(orders 1 single, 2 double, 3 triple, 4 aromatic), optionally relaxed on the model's potential
until the largest force is below fmax (kJ/mol/nm; 0: the library's default for generated
structures, 0.05 eV/A = 48.2 kJ/mol/nm); with potentialPath, another Concord model
relaxes them and its energies rank them. formalCharges: one per atom (empty: a neutral graph),
summing to zero (nitro groups, N-oxides). Returns a list of GeneratedStructure with
positions (nm, flat [3N], centred), energy (kJ/mol; NaN when not computable), relaxed,
converged, maxForce (kJ/mol/nm), sane and problem (Concord's structure check: bond lengths
plausible for their orders, no clash of unbonded atoms) and rank (0 = the best sample: sane
first, then the lowest energy; Concord's generation pipeline). See generate_positions for the
Topology-level helper.";

%feature("docstring") ConcordPlugin::ConcordForce::computeDeviation "computeDeviation(context) -> ConcordDeviation

The committee's disagreement (this force's model and every addCommitteeModel member) at the
Context's current positions, DeePMD-kit's model deviation: energyStd (kJ/mol),
max/min/avgForceDeviation and atomForceDeviations (per force atom), kJ/mol/nm.";

namespace ConcordPlugin {

struct ConcordDeviation {
    double energyStd;
    double maxForceDeviation, minForceDeviation, avgForceDeviation;
    std::vector<double> atomForceDeviations;
};

class ConcordForce : public OpenMM::Force {
public:
    ConcordForce(const std::string& modelPath, const std::vector<int>& atomicNumbers,
                 int precision = 32, const std::string& device = "cpu");
    ConcordForce(const std::string& modelPath, const std::vector<std::string>& elements,
                 int precision = 32, const std::string& device = "cpu");
    const std::string& getModelPath() const;
    const std::vector<int>& getAtomicNumbers() const;
    int getNumParticles() const;
    void setParticles(const std::vector<int>& particles);
    const std::vector<int>& getParticles() const;
    int getPrecision() const;
    const std::string& getDevice() const;
    std::vector<int> getModelElements() const;
    double getReceptiveField() const;
    std::string getModelChecksum() const;
    void setUsesPeriodicBoundaryConditions(bool periodic);
    bool usesPeriodicBoundaryConditions() const;
    void addCommitteeModel(const std::string& path);
    int getNumCommitteeModels() const;
    const std::string& getCommitteeModelPath(int index) const;
    std::string getCommitteeModelChecksum(int index) const;
    ConcordDeviation computeDeviation(OpenMM::Context& context) const;

    %extend {
        /** The ConcordForce behind a Force returned by System.getForce(). */
        static ConcordPlugin::ConcordForce& cast(OpenMM::Force& force) {
            return dynamic_cast<ConcordPlugin::ConcordForce&>(force);
        }
        /** Whether a Force is a ConcordForce. */
        static bool isinstance(OpenMM::Force& force) {
            return dynamic_cast<ConcordPlugin::ConcordForce*>(&force) != nullptr;
        }
    }
};

%ignore GeneratedStructure::positions;
%extend GeneratedStructure {
    /** Positions in nm as a flat list [3N]. */
    PyObject* _positions() const {
        PyObject* list = PyList_New($self->positions.size());
        for (size_t i = 0; i < $self->positions.size(); ++i) {
            PyList_SET_ITEM(list, i, PyFloat_FromDouble($self->positions[i]));
        }
        return list;
    }
    %pythoncode %{
    positions = property(_positions, doc="Positions in nm, flat [3N], centred at the origin.")
    %}
}

struct GeneratedStructure {
    std::vector<double> positions;
    double energy;
    bool relaxed;
    bool converged;
    double maxForce;
    bool sane;
    std::string problem;
    int rank;
};

}  // namespace ConcordPlugin

// generateStructures returns a Python list of GeneratedStructure.
%typemap(out) std::vector<ConcordPlugin::GeneratedStructure> {
    const std::vector<ConcordPlugin::GeneratedStructure>& items = $1;
    $result = PyList_New(items.size());
    for (size_t k = 0; k < items.size(); ++k) {
        PyList_SET_ITEM($result, k, SWIG_NewPointerObj(new ConcordPlugin::GeneratedStructure(items[k]),
                        $descriptor(ConcordPlugin::GeneratedStructure*), SWIG_POINTER_OWN));
    }
}

namespace ConcordPlugin {
std::vector<GeneratedStructure> generateStructures(
    const std::string& modelPath, const std::vector<int>& atomicNumbers,
    const std::vector<int>& bondFirst, const std::vector<int>& bondSecond,
    const std::vector<int>& bondOrder, int samples = 1, int64_t seed = 0, bool relax = true,
    double fmax = 0.0, int precision = 64, const std::string& potentialPath = "",
    const std::vector<int>& formalCharges = std::vector<int>());
}
