// Concord C++ API: a header-only RAII wrapper over the C API of include/concord.h.
//
//   concord::Model model("model.concord");             // float32 on the CPU
//   auto result = model.compute(numbers, positions);   // energy (eV), forces (eV/A)
//   auto relaxed = model.optimize(numbers, positions); // geometry optimisation
//   if (model.has_generator()) {                       // structures from a bond graph
//       auto samples = model.generate_optimize(numbers, bonds, 5);
//   }
//
// Every failure throws concord::Error, which carries the C status and message. Inputs are
// taken as std::vector / std::array, or as pointer + size for data that lives elsewhere (an MD
// engine's arrays); results come back in std::vector / std::array. Needs C++17 and linking
// with libconcord (-lconcord).
//
// Thread safety: as for the C API, one Model may be used by several threads at once; a Model
// must not be moved or destroyed while another thread uses it.
#ifndef CONCORD_HPP
#define CONCORD_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "concord.h"

namespace concord {

/// A position or force, [x, y, z].
using Vector3 = std::array<double, 3>;
/// A cell (rows = lattice vectors, A) or a virial (eV).
using Matrix3 = std::array<Vector3, 3>;

static_assert(sizeof(Vector3) == 3 * sizeof(double), "std::array<double, 3> must be packed");
static_assert(sizeof(Matrix3) == 9 * sizeof(double), "std::array<Vector3, 3> must be packed");

/// A failed Concord call: the C status code and the library's message.
class Error : public std::runtime_error {
public:
    Error(concord_status_t status, const std::string& message, std::vector<int64_t> atoms = {})
        : std::runtime_error(message), status_(status), atoms_(std::move(atoms)) {}
    /// The C status (CONCORD_ERROR_*).
    concord_status_t status() const noexcept { return status_; }
    /// The atoms the error is about (0-based indices into the call's arrays): the two atoms
    /// of CONCORD_ERROR_OVERLAP, the atom with a non-finite coordinate; empty otherwise.
    const std::vector<int64_t>& atoms() const noexcept { return atoms_; }

private:
    concord_status_t status_;
    std::vector<int64_t> atoms_;
};

namespace detail {
/// Throws concord::Error with this thread's last error (message and atoms) when `status` is
/// not success.
inline void check(concord_status_t status) {
    if (status != CONCORD_SUCCESS) {
        const char* message = concord_last_error();
        const int64_t count = std::max<int64_t>(0, concord_last_error_atoms(nullptr, 0));
        std::vector<int64_t> atoms(static_cast<size_t>(count));
        if (count > 0 && concord_last_error_atoms(atoms.data(), count) != count) atoms.clear();
        throw Error(status, message != nullptr ? message : "unknown Concord error",
                    std::move(atoms));
    }
}
}  // namespace detail

/// The version of the loaded library (compare with CONCORD_VERSION).
inline std::string version() { return concord_version(); }

/// Throws concord::Error (CONCORD_ERROR_ABI_VERSION) when the loaded library implements
/// another ABI than this header. Model's constructor calls it.
inline void check_abi_version() { detail::check(concord_check_abi_version(CONCORD_ABI_VERSION)); }

/// Which derivatives to compute besides the energy.
struct Request {
    bool forces = true;
    bool atom_energies = false;
    bool virial = false;
    bool atom_virial = false;
};

/// Results of a computation; the vectors of outputs that were not requested are empty.
struct Result {
    /// Energy (of the local atoms for compute_local), eV.
    double energy = 0.0;
    /// Forces, eV/A, [N].
    std::vector<Vector3> forces;
    /// Atomic energies, eV, [N].
    std::vector<double> atom_energies;
    /// Virial W = sum r (x) f, eV (valid when requested).
    Matrix3 virial{};
    /// Per-atom virials, eV, [N].
    std::vector<Matrix3> atom_virial;
};

/// A bond of a molecular graph: two atoms (0-based indices) and the bond order (1 single,
/// 2 double, 3 triple, 4 aromatic).
struct Bond {
    int32_t first = 0;
    int32_t second = 0;
    int32_t order = 1;
};

/// Settings of the structure generator's sampler (see concord_generate).
struct SamplerOptions {
    /// Seed of the sampler's random numbers: the same seed gives the same structures.
    uint64_t seed = 0;
    /// Noise levels of the sampler: 0 for the generator's default (the count its model file
    /// records, else 64), or 2 to CONCORD_MAX_SAMPLER_STEPS.
    int32_t steps = 0;
    /// Stochasticity (EDM's S_churn, >= 0) at every level; 0 for the deterministic sampler;
    /// CONCORD_DEFAULT_CHURN (the default) for the generator's own setting (the churn its
    /// model file records, at the levels it records, else 0).
    double churn = CONCORD_DEFAULT_CHURN;
};

/// Settings of a geometry optimisation: the fields of concord_optimize_options_t (fmax eV/A,
/// max_steps, max_step A, method CONCORD_OPTIMIZE_LBFGS, _LBFGS_PRECON or _FIRE, memory),
/// initialised to the library's defaults; generated() gives those of a generated structure's
/// relaxation (concord_generate_relax_options_default).
struct OptimizeOptions : concord_optimize_options_t {
    OptimizeOptions() : concord_optimize_options_t(concord_optimize_options_default()) {}
    static OptimizeOptions generated() {
        OptimizeOptions o;
        static_cast<concord_optimize_options_t&>(o) = concord_generate_relax_options_default();
        return o;
    }
};

/// An optimised structure and how the optimisation went.
struct Optimized {
    /// Final positions, A, [N] (for a failed sample of generate_optimize: as generated).
    std::vector<Vector3> positions;
    /// CONCORD_SUCCESS when the optimisation ran (converged or not). Only generate_optimize
    /// reports a failed sample here (optimize throws instead); the numbers below are then
    /// NaN or 0.
    concord_status_t status = CONCORD_SUCCESS;
    /// Whether the largest per-atom force fell below fmax.
    bool converged = false;
    /// Position updates taken.
    int64_t steps = 0;
    /// Energy and force evaluations.
    int64_t force_calls = 0;
    /// Final energy, eV.
    double energy = 0.0;
    /// Starting energy, eV.
    double initial_energy = 0.0;
    /// Largest per-atom force norm at the end, eV/A.
    double max_force = 0.0;
};

/// One sample of generate_structures: its positions and what the pipeline found out about it
/// (the fields of concord_sample_t).
struct GeneratedSample {
    /// Positions, A, [N]: relaxed where the relaxation succeeded, as generated otherwise.
    std::vector<Vector3> positions;
    /// 0 = the best of the call's samples (sane first, then lowest energy, then draw order).
    int rank = 0;
    /// Chemically sane for its graph (no problem found by check_structure).
    bool sane = false;
    /// Number of sanity problems, and the first one in words ("" when sane).
    int n_problems = 0;
    std::string problem;
    /// Relaxed (converged or not); `relax_status` is the error of a failed relaxation.
    bool relaxed = false;
    concord_status_t relax_status = CONCORD_SUCCESS;
    bool converged = false;
    int64_t steps = 0;
    int64_t force_calls = 0;
    /// Energy (eV) and largest force (eV/A) at `positions`; NaN when the model refuses them.
    double energy = 0.0;
    double max_force = 0.0;
};

/// The configurations generated structures must have: stereocentres (a centre, its four
/// neighbours, anticlockwise seen from the first: SMILES `@`) and double bonds (the two atoms,
/// one substituent of each end, cis). Empty: any stereoisomer.
struct Stereo {
    std::vector<concord_stereocentre_t> centres;
    std::vector<concord_double_bond_t> double_bonds;
};

/// A loaded model (move-only; the handle is freed by the destructor).
/// An engine's halo exchange between message-passing layers (Model::compute_local_exchange):
/// `rows` is [n_rows][width], one row per atom of the call, local atoms first.
class Exchange {
public:
    virtual ~Exchange() = default;
    /// Overwrites each ghost atom's row with its owner's row.
    virtual void forward(int64_t n_rows, int64_t width, double* rows) = 0;
    /// Adds each ghost atom's row to its owner's row.
    virtual void reverse(int64_t n_rows, int64_t width, double* rows) = 0;
};

class Model {
public:
    /// Loads a model file. `device`: "cpu", "cuda" or "cuda:N"; `precision`: 32 or 64.
    explicit Model(const std::string& path, const std::string& device = "cpu",
                   int precision = 32) {
        check_abi_version();
        detail::check(concord_model_load(path.c_str(), device.c_str(), precision, &model_));
    }

    ~Model() { (void)concord_model_free(model_); }

    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;
    Model(Model&& other) noexcept : model_(std::exchange(other.model_, nullptr)) {}
    Model& operator=(Model&& other) noexcept {
        if (this != &other) {
            (void)concord_model_free(model_);
            model_ = std::exchange(other.model_, nullptr);
        }
        return *this;
    }

    /// The C handle (owned by this object), for calls the wrapper does not cover.
    concord_model_t* handle() const noexcept { return model_; }

    /// Atomic numbers of the elements the model knows.
    std::vector<int32_t> elements() const {
        size_t n = 0;
        detail::check(concord_model_elements(model_, nullptr, 0, &n));
        std::vector<int32_t> z(n);
        detail::check(concord_model_elements(model_, z.data(), z.size(), &n));
        return z;
    }

    /// Cutoff of one layer, A.
    double cutoff() const {
        double value = 0.0;
        detail::check(concord_model_cutoff(model_, &value));
        return value;
    }

    /// Receptive field (the ghost cutoff an engine must provide), A.
    double receptive_field() const {
        double value = 0.0;
        detail::check(concord_model_receptive_field(model_, &value));
        return value;
    }

    /// The model file's metadata as JSON text.
    std::string metadata_json() const {
        size_t size = 0;
        detail::check(concord_model_metadata_json(model_, nullptr, 0, &size));
        std::string text(size, '\0');
        detail::check(concord_model_metadata_json(model_, text.data(), text.size(), &size));
        text.resize(size > 0 ? size - 1 : 0);
        return text;
    }

    /// Energy and derivatives of `n_atoms` atoms (pointer form): atomic numbers [n], positions
    /// [n][3] in A, optional cell [3][3] (rows = lattice vectors, A) and periodic flags [3]
    /// (NULL: periodic along all three when a cell is given).
    Result compute(size_t n_atoms, const int32_t* atomic_numbers, const double* positions,
                   const double* cell = nullptr, const int32_t* periodic = nullptr,
                   Request request = {}) const {
        Result r = allocate(n_atoms, request);
        detail::check(concord_compute(model_, static_cast<int64_t>(n_atoms), atomic_numbers,
                                      positions, cell, periodic, &r.energy, forces(r),
                                      atom_energies(r), virial(r, request), atom_virial(r)));
        return r;
    }

    /// Energy and derivatives of a whole system (container form).
    Result compute(const std::vector<int32_t>& atomic_numbers,
                   const std::vector<Vector3>& positions,
                   const std::optional<Matrix3>& cell = std::nullopt,
                   const std::optional<std::array<bool, 3>>& periodic = std::nullopt,
                   Request request = {}) const {
        same_size(atomic_numbers.size(), positions.size(), "atomic_numbers", "positions");
        std::array<int32_t, 3> flags{};
        if (periodic) {
            for (size_t k = 0; k < 3; ++k) flags[k] = (*periodic)[k] ? 1 : 0;
        }
        return compute(atomic_numbers.size(), atomic_numbers.data(), flat(positions),
                       cell ? cell->data()->data() : nullptr, periodic ? flags.data() : nullptr,
                       request);
    }

    /// Energy of the first `n_local` of `n_total` atoms and forces on all (an engine's local +
    /// ghost atoms), pointer form. `pair_first`/`pair_second` [n_pairs] list every pair within
    /// the cutoff in both directions; pass nullptr for both to let Concord search them.
    Result compute_local(size_t n_local, size_t n_total, const int32_t* atomic_numbers,
                         const double* positions, size_t n_pairs, const int32_t* pair_first,
                         const int32_t* pair_second, Request request = {}) const {
        Result r = allocate(n_total, request);
        detail::check(concord_compute_local(
            model_, static_cast<int64_t>(n_local), static_cast<int64_t>(n_total),
            atomic_numbers, positions, static_cast<int64_t>(n_pairs), pair_first, pair_second,
            &r.energy, forces(r), atom_energies(r), virial(r, request), atom_virial(r)));
        return r;
    }

    /// compute_local with the engine's halo `exchange` between layers: every layer runs for
    /// the local atoms only and ghosts (which need only cover one cutoff) take their owners'
    /// features; an exception thrown by `exchange` ends the call and is rethrown here.
    Result compute_local_exchange(size_t n_local, size_t n_total, const int32_t* atomic_numbers,
                                  const double* positions, size_t n_pairs,
                                  const int32_t* pair_first, const int32_t* pair_second,
                                  Exchange& exchange, Request request = {}) const {
        struct Context {
            Exchange& exchange;
            std::exception_ptr error;
        } context{exchange, nullptr};
        auto call = [](void* user, int32_t direction, int64_t n_rows, int64_t width,
                       double* rows) -> int32_t {
            auto* c = static_cast<Context*>(user);
            try {  // no exception may cross the C library
                if (direction == CONCORD_EXCHANGE_FORWARD)
                    c->exchange.forward(n_rows, width, rows);
                else
                    c->exchange.reverse(n_rows, width, rows);
                return 0;
            } catch (...) {
                c->error = std::current_exception();
                return 1;
            }
        };
        Result r = allocate(n_total, request);
        const concord_status_t status = concord_compute_local_exchange(
            model_, static_cast<int64_t>(n_local), static_cast<int64_t>(n_total),
            atomic_numbers, positions, static_cast<int64_t>(n_pairs), pair_first, pair_second,
            call, &context, &r.energy, forces(r), atom_energies(r), virial(r, request),
            atom_virial(r));
        if (context.error) std::rethrow_exception(context.error);
        detail::check(status);
        return r;
    }

    /// The exchange's row width (doubles per atom) and number of calls in each direction.
    std::pair<int64_t, int32_t> exchange_shape() const {
        int64_t width = 0;
        int32_t rounds = 0;
        detail::check(concord_model_exchange_shape(model_, &width, &rounds));
        return {width, rounds};
    }

    /// compute_local with Concord searching the neighbour pairs (container form).
    Result compute_local(size_t n_local, const std::vector<int32_t>& atomic_numbers,
                         const std::vector<Vector3>& positions, Request request = {}) const {
        same_size(atomic_numbers.size(), positions.size(), "atomic_numbers", "positions");
        return compute_local(n_local, atomic_numbers.size(), atomic_numbers.data(),
                             flat(positions), 0, nullptr, nullptr, request);
    }

    /// compute_local with the engine's neighbour pairs (container form).
    Result compute_local(size_t n_local, const std::vector<int32_t>& atomic_numbers,
                         const std::vector<Vector3>& positions,
                         const std::vector<int32_t>& pair_first,
                         const std::vector<int32_t>& pair_second, Request request = {}) const {
        same_size(atomic_numbers.size(), positions.size(), "atomic_numbers", "positions");
        same_size(pair_first.size(), pair_second.size(), "pair_first", "pair_second");
        // An empty vector's data() may be null, which would mean "search the pairs".
        static const int32_t none = 0;
        const int32_t* first = pair_first.empty() ? &none : pair_first.data();
        const int32_t* second = pair_second.empty() ? &none : pair_second.data();
        return compute_local(n_local, atomic_numbers.size(), atomic_numbers.data(),
                             flat(positions), pair_first.size(), first, second,
                             request);
    }

    /// Whether the model has a structure generator (generate, generate_optimize).
    bool has_generator() const {
        int32_t value = 0;
        detail::check(concord_model_has_generator(model_, &value));
        return value != 0;
    }

    /// Relaxes `positions` (A, [N]) of atoms `atomic_numbers` with the model's potential, in an
    /// optional fixed cell. Running out of steps is not an error (`converged` is false); any
    /// failure throws concord::Error.
    Optimized optimize(const std::vector<int32_t>& atomic_numbers,
                       const std::vector<Vector3>& positions,
                       const std::optional<Matrix3>& cell = std::nullopt,
                       const std::optional<std::array<bool, 3>>& periodic = std::nullopt,
                       const OptimizeOptions& options = OptimizeOptions()) const {
        same_size(atomic_numbers.size(), positions.size(), "atomic_numbers", "positions");
        std::array<int32_t, 3> flags{};
        if (periodic) {
            for (size_t k = 0; k < 3; ++k) flags[k] = (*periodic)[k] ? 1 : 0;
        }
        std::vector<Vector3> x = positions;
        concord_optimize_result_t r{};
        detail::check(concord_optimize(
            model_, static_cast<int64_t>(x.size()), atomic_numbers.data(),
            x.empty() ? nullptr : x.data()->data(), cell ? cell->data()->data() : nullptr,
            periodic ? flags.data() : nullptr, &options, &r));
        return optimized(std::move(x), r);
    }

    /// `n_samples` structures (A, [n_samples][N], centred) of the molecule with atoms
    /// `atomic_numbers` and `bonds`, from the model's structure generator.
    std::vector<std::vector<Vector3>> generate(const std::vector<int32_t>& atomic_numbers,
                                               const std::vector<Bond>& bonds, size_t n_samples,
                                               const SamplerOptions& sampler = {}) const {
        Graph g(bonds);
        std::vector<Vector3> x = allocate_samples(atomic_numbers.size(), n_samples);
        detail::check(concord_generate(
            model_, static_cast<int64_t>(atomic_numbers.size()), atomic_numbers.data(),
            static_cast<int64_t>(bonds.size()), g.first(), g.second(), g.order(),
            static_cast<int64_t>(n_samples), sampler.seed, sampler.steps, sampler.churn,
            x.empty() ? nullptr : x.data()->data()));
        std::vector<std::vector<Vector3>> samples;
        for (size_t k = 0; k < n_samples; ++k) {
            auto begin = x.begin() + static_cast<std::ptrdiff_t>(k * atomic_numbers.size());
            samples.emplace_back(begin, begin + static_cast<std::ptrdiff_t>(atomic_numbers.size()));
        }
        return samples;
    }

    /// generate, then optimize each sample. A sample whose relaxation failed does not throw: it
    /// keeps its generated positions and its `status` says why (call optimize on it for the
    /// message). Invalid arguments throw concord::Error.
    std::vector<Optimized> generate_optimize(const std::vector<int32_t>& atomic_numbers,
                                             const std::vector<Bond>& bonds, size_t n_samples,
                                             const SamplerOptions& sampler = {},
                                             const OptimizeOptions& options =
                                                 OptimizeOptions::generated()) const {
        Graph g(bonds);
        const size_t n = atomic_numbers.size();
        std::vector<Vector3> x = allocate_samples(n, n_samples);
        std::vector<concord_optimize_result_t> r(x.empty() ? 0 : n_samples);
        detail::check(concord_generate_optimize(
            model_, static_cast<int64_t>(n), atomic_numbers.data(),
            static_cast<int64_t>(bonds.size()), g.first(), g.second(), g.order(),
            static_cast<int64_t>(n_samples), sampler.seed, sampler.steps, sampler.churn, &options,
            x.empty() ? nullptr : x.data()->data(), r.empty() ? nullptr : r.data()));
        std::vector<Optimized> out;
        for (size_t k = 0; k < n_samples; ++k) {
            auto begin = x.begin() + static_cast<std::ptrdiff_t>(k * n);
            out.push_back(optimized(std::vector<Vector3>(begin, begin + static_cast<std::ptrdiff_t>(n)), r[k]));
        }
        return out;
    }

    /// The generation pipeline (concord_generate_structures_stereo): n_samples structures
    /// with the `stereo` configurations where geometry allows (a sample still wrong is not
    /// sane), relaxed with `relax` when given (OptimizeOptions::generated() for the library's
    /// choice), screened and ranked, all on `potential` (this model when null). Samples in
    /// draw order; keep them all or the one of rank 0. `formal_charges`: one per atom (empty:
    /// a neutral graph), summing to zero (nitro groups, N-oxides).
    std::vector<GeneratedSample> generate_structures(
        const std::vector<int32_t>& atomic_numbers, const std::vector<Bond>& bonds,
        size_t n_samples, const SamplerOptions& sampler = {},
        const std::optional<OptimizeOptions>& relax = std::nullopt,
        const Model* potential = nullptr, const Stereo& stereo = {},
        const std::vector<int32_t>& formal_charges = {}) const {
        Graph g(bonds);
        const size_t n = atomic_numbers.size();
        if (!formal_charges.empty() && formal_charges.size() != n) {
            throw Error(CONCORD_ERROR_INVALID_INPUT,
                        std::to_string(formal_charges.size()) + " formal charges for " +
                            std::to_string(n) + " atoms");
        }
        std::vector<Vector3> x = allocate_samples(n, n_samples);
        std::vector<concord_sample_t> info(x.empty() ? 0 : n_samples);
        detail::check(concord_generate_structures_stereo(
            model_, potential ? potential->model_ : nullptr, static_cast<int64_t>(n),
            atomic_numbers.data(), formal_charges.empty() ? nullptr : formal_charges.data(),
            static_cast<int64_t>(bonds.size()), g.first(), g.second(), g.order(),
            static_cast<int64_t>(stereo.centres.size()), stereo.centres.data(),
            static_cast<int64_t>(stereo.double_bonds.size()), stereo.double_bonds.data(),
            static_cast<int64_t>(n_samples), sampler.seed, sampler.steps, sampler.churn,
            relax ? 1 : 0, relax ? &*relax : nullptr, x.empty() ? nullptr : x.data()->data(),
            info.empty() ? nullptr : info.data()));
        std::vector<GeneratedSample> out;
        for (size_t k = 0; k < info.size(); ++k) {
            const concord_sample_t& i = info[k];
            GeneratedSample s;
            auto begin = x.begin() + static_cast<std::ptrdiff_t>(k * n);
            s.positions.assign(begin, begin + static_cast<std::ptrdiff_t>(n));
            s.rank = i.rank;
            s.sane = i.sane != 0;
            s.n_problems = i.n_problems;
            s.problem = std::string(i.problem);
            s.relaxed = i.relaxed != 0;
            s.relax_status = i.relax_status;
            s.converged = i.converged != 0;
            s.steps = i.steps;
            s.force_calls = i.force_calls;
            s.energy = i.energy;
            s.max_force = i.max_force;
            out.push_back(std::move(s));
        }
        return out;
    }

private:
    /// The bond list as the three arrays of the C API.
    class Graph {
    public:
        explicit Graph(const std::vector<Bond>& bonds) {
            for (const Bond& b : bonds) {
                first_.push_back(b.first);
                second_.push_back(b.second);
                order_.push_back(b.order);
            }
        }
        const int32_t* first() const { return first_.empty() ? nullptr : first_.data(); }
        const int32_t* second() const { return second_.empty() ? nullptr : second_.data(); }
        const int32_t* order() const { return order_.empty() ? nullptr : order_.data(); }

    private:
        std::vector<int32_t> first_, second_, order_;
    };

    /// Room for `n_samples` structures of `n` atoms; empty (the library refuses the counts)
    /// when there would be too many.
    static std::vector<Vector3> allocate_samples(size_t n, size_t n_samples) {
        const size_t max = static_cast<size_t>(CONCORD_MAX_ATOMS);
        if (n == 0 || n_samples == 0 || n > max || n_samples > max / n) return {};
        return std::vector<Vector3>(n * n_samples);
    }

    static Optimized optimized(std::vector<Vector3> positions,
                               const concord_optimize_result_t& r) {
        Optimized o;
        o.positions = std::move(positions);
        o.status = static_cast<concord_status_t>(r.status);
        o.converged = r.converged != 0;
        o.steps = r.steps;
        o.force_calls = r.force_calls;
        o.energy = r.energy;
        o.initial_energy = r.initial_energy;
        o.max_force = r.max_force;
        return o;
    }

    static const double* flat(const std::vector<Vector3>& v) {
        return v.empty() ? nullptr : v.data()->data();
    }

    static void same_size(size_t a, size_t b, const char* name_a, const char* name_b) {
        if (a != b) {
            throw Error(CONCORD_ERROR_INVALID_INPUT,
                        std::string("concord::Model: invalid input: ") + name_a + " has " +
                            std::to_string(a) + " entries but " + name_b + " has " +
                            std::to_string(b));
        }
    }

    static Result allocate(size_t n, Request request) {
        Result r;
        // Absurd counts are refused by the library before any output is touched.
        if (n > static_cast<size_t>(CONCORD_MAX_ATOMS)) return r;
        if (request.forces) r.forces.resize(n);
        if (request.atom_energies) r.atom_energies.resize(n);
        if (request.atom_virial) r.atom_virial.resize(n);
        return r;
    }
    static double* forces(Result& r) { return r.forces.empty() ? nullptr : r.forces.data()->data(); }
    static double* atom_energies(Result& r) {
        return r.atom_energies.empty() ? nullptr : r.atom_energies.data();
    }
    static double* virial(Result& r, Request request) {
        return request.virial ? r.virial.data()->data() : nullptr;
    }
    static double* atom_virial(Result& r) {
        return r.atom_virial.empty() ? nullptr : r.atom_virial.data()->data()->data();
    }

    concord_model_t* model_ = nullptr;
};

/// The outcome of check_structure: how many problems, and the first one in words.
struct StructureCheck {
    /// Number of problems (0 = sane).
    int64_t problems = 0;
    /// The first problem, e.g. "bond 0-1 (order 1) is 2.180 A, outside [...]"; empty when sane.
    std::string first;
    /// True when the structure is sane.
    bool sane() const { return problems == 0; }
};

/// Checks that positions (A, [N]) are chemically sane for the graph (bond lengths for their
/// orders, no clashes of unbonded atoms): concord_check_structure. Throws concord::Error for
/// bad arguments (sizes, bond indices, unknown elements).
inline StructureCheck check_structure(const std::vector<int32_t>& atomic_numbers,
                                      const std::vector<Bond>& bonds,
                                      const std::vector<Vector3>& positions) {
    if (atomic_numbers.size() != positions.size()) {
        throw Error(CONCORD_ERROR_INVALID_INPUT,
                    "concord::check_structure: invalid input: atomic_numbers has " +
                        std::to_string(atomic_numbers.size()) + " entries but positions has " +
                        std::to_string(positions.size()));
    }
    std::vector<int32_t> first, second, order;
    for (const Bond& b : bonds) {
        first.push_back(b.first);
        second.push_back(b.second);
        order.push_back(b.order);
    }
    StructureCheck out;
    char message[512] = {0};
    detail::check(concord_check_structure(
        static_cast<int64_t>(atomic_numbers.size()), atomic_numbers.data(),
        static_cast<int64_t>(bonds.size()), first.empty() ? nullptr : first.data(),
        second.empty() ? nullptr : second.data(), order.empty() ? nullptr : order.data(),
        positions.empty() ? nullptr : positions.data()->data(), &out.problems, message,
        sizeof message));
    out.first = message;
    return out;
}

/// A committee's disagreement on one structure (concord_model_deviation): energy standard
/// deviation (eV), force deviation per atom and its max/min/mean (eV/A), virial-per-atom
/// deviation max/min/mean (eV), as DeePMD-kit defines them.
struct Deviation : concord_deviation_t {
    /// Force deviation of every atom, eV/A, [N].
    std::vector<double> atom_forces;
};

/// How much `models` (at least two; the first is the one driving dynamics) disagree on a whole
/// system (atomic numbers [N], positions [N] in A, optional cell and periodicity as in
/// Model::compute). Throws concord::Error.
inline Deviation model_deviation(const std::vector<const Model*>& models,
                                 const std::vector<int32_t>& atomic_numbers,
                                 const std::vector<Vector3>& positions,
                                 const std::optional<Matrix3>& cell = std::nullopt) {
    if (atomic_numbers.size() != positions.size()) {
        throw Error(CONCORD_ERROR_INVALID_INPUT,
                    "concord::model_deviation: invalid input: atomic_numbers has " +
                        std::to_string(atomic_numbers.size()) + " entries but positions has " +
                        std::to_string(positions.size()));
    }
    std::vector<const concord_model_t*> handles;
    for (const Model* m : models) handles.push_back(m ? m->handle() : nullptr);
    Deviation out{};
    out.atom_forces.resize(atomic_numbers.size());
    detail::check(concord_model_deviation(
        handles.data(), static_cast<int64_t>(handles.size()),
        static_cast<int64_t>(atomic_numbers.size()), atomic_numbers.data(),
        positions.empty() ? nullptr : positions.data()->data(),
        cell ? cell->data()->data() : nullptr, nullptr, &out, out.atom_forces.data()));
    return out;
}

}  // namespace concord

#endif  // CONCORD_HPP
