// Tests of the C++ wrapper (cpp/concord.hpp), compiled with the system C++ compiler and run by
// tests/c_cpp.rs. Usage: test_api MODEL CORRUPT_MODEL GENERATOR_MODEL (MODEL has no structure
// generator, GENERATOR_MODEL has one). Prints results ("name value...",
// %.17g) that the driver compares bit for bit with the Rust API; exits non-zero on any failed
// check.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "concord.hpp"

static int checks = 0, failures = 0;

#define CHECK(cond, what)                                                              \
    do {                                                                               \
        checks++;                                                                      \
        if (!(cond)) {                                                                 \
            failures++;                                                                \
            std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, what);        \
        }                                                                              \
    } while (0)

// `body` must throw concord::Error with `status` and a message containing `needle`.
template <typename F>
static void expect_error(F body, concord_status_t status, const std::string& needle,
                         const char* what) {
    checks++;
    try {
        body();
        failures++;
        std::fprintf(stderr, "FAIL %s: no exception\n", what);
    } catch (const concord::Error& e) {
        if (e.status() != status || std::string(e.what()).find(needle) == std::string::npos) {
            failures++;
            std::fprintf(stderr, "FAIL %s: status %d (want %d), message '%s' (want '%s')\n",
                         what, static_cast<int>(e.status()), static_cast<int>(status), e.what(),
                         needle.c_str());
        }
    }
}

static void print(const char* name, const double* v, size_t n) {
    std::printf("%s", name);
    for (size_t i = 0; i < n; i++) std::printf(" %.17g", v[i]);
    std::printf("\n");
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s MODEL CORRUPT GENERATOR_MODEL\n", argv[0]);
        return 2;
    }
    static_assert(!std::is_copy_constructible_v<concord::Model>, "Model is move-only");
    static_assert(std::is_nothrow_move_constructible_v<concord::Model>, "Model moves");

    CHECK(concord::version() == CONCORD_VERSION, "version");
    concord::check_abi_version();

    expect_error([&] { concord::Model m(argv[2], "cpu", 64); }, CONCORD_ERROR_MODEL_FILE,
                 "not a Concord model file", "corrupt file");
    expect_error([&] { concord::Model m(argv[1], "cpu", 8); }, CONCORD_ERROR_INVALID_ARGUMENT,
                 "precision 8", "bad precision");

    concord::Model loaded(argv[1], "cpu", 64);
    concord::Model model(std::move(loaded));  // moves leave the source empty
    CHECK(loaded.handle() == nullptr && model.handle() != nullptr, "move");
    {
        concord::Model other(argv[1], "cpu", 32);
        other = std::move(model);
        model = std::move(other);
    }
    CHECK(model.handle() != nullptr, "move assignment");

    CHECK((model.elements() == std::vector<int32_t>{1, 6, 7, 8}), "elements");
    CHECK(model.cutoff() == 4.0 && model.receptive_field() == 8.0, "cutoff");
    std::string json = model.metadata_json();
    CHECK(json.find("\"format\":\"concord-model\"") != std::string::npos &&
              json.size() == std::strlen(json.c_str()),
          "metadata JSON");

    // Methane, container form, everything requested.
    std::vector<int32_t> z = {6, 1, 1, 1, 1};
    std::vector<concord::Vector3> x = {{0.0, 0.0, 0.0},
                                       {0.629, 0.629, 0.629},
                                       {-0.629, -0.629, 0.629},
                                       {-0.629, 0.629, -0.629},
                                       {0.629, -0.629, -0.629}};
    concord::Request all{true, true, true, true};
    concord::Result r = model.compute(z, x, std::nullopt, std::nullopt, all);
    print("methane_energy", &r.energy, 1);
    print("methane_forces", r.forces.data()->data(), 15);
    print("methane_atom_energies", r.atom_energies.data(), 5);
    print("methane_virial", r.virial.data()->data(), 9);
    print("methane_atom_virial", r.atom_virial.data()->data()->data(), 45);

    // Pointer form gives the same; the default request is energy + forces.
    concord::Result p = model.compute(z.size(), z.data(), x.data()->data());
    CHECK(p.energy == r.energy && p.forces == r.forces && p.atom_energies.empty() &&
              p.atom_virial.empty(),
          "pointer form");

    // Periodic water.
    std::vector<int32_t> wz = {8, 1, 1};
    std::vector<concord::Vector3> wx = {{0.0, 0.0, 0.117}, {0.0, 0.757, -0.467},
                                        {0.0, -0.757, -0.467}};
    concord::Matrix3 cell = {{{6.0, 0.0, 0.0}, {0.0, 6.0, 0.0}, {0.0, 0.0, 6.0}}};
    concord::Request fv{true, false, true, false};
    concord::Result w = model.compute(wz, wx, cell, std::array<bool, 3>{true, true, true}, fv);
    print("water_periodic_energy", &w.energy, 1);
    print("water_periodic_forces", w.forces.data()->data(), 9);
    print("water_periodic_virial", w.virial.data()->data(), 9);

    // Local + ghost atoms, searched and given pairs.
    concord::Result l = model.compute_local(3, z, x);
    print("local_energy", &l.energy, 1);
    print("local_forces", l.forces.data()->data(), 15);
    std::vector<int32_t> first, second;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            if (i != j) {
                first.push_back(i);
                second.push_back(j);
            }
    concord::Result lp = model.compute_local(3, z, x, first, second);
    print("local_pairs_energy", &lp.energy, 1);
    print("local_pairs_forces", lp.forces.data()->data(), 15);
    // Given, empty pair lists are not "search": isolated atoms have zero forces.
    concord::Result isolated = model.compute_local(3, z, x, {}, {});
    CHECK(isolated.forces[0] == (concord::Vector3{0.0, 0.0, 0.0}), "empty pair list");

    // The halo exchange: with every atom local it copies nothing and gives the plain result;
    // an exception thrown by the exchange comes back out of the call.
    struct Count : concord::Exchange {
        int forward_calls = 0, reverse_calls = 0;
        bool fail = false;
        void forward(int64_t, int64_t, double*) override {
            ++forward_calls;
            if (fail) throw std::runtime_error("engine exchange failed");
        }
        void reverse(int64_t, int64_t, double*) override { ++reverse_calls; }
    } count;
    auto [width, rounds] = model.exchange_shape();
    CHECK(width > 0 && rounds >= 1, "exchange shape");
    concord::Result all_local = model.compute_local(5, z, x);
    concord::Result ex = model.compute_local_exchange(5, 5, z.data(), x.data()->data(), 0,
                                                      nullptr, nullptr, count);
    CHECK(ex.energy == all_local.energy && ex.forces == all_local.forces, "exchange result");
    CHECK(count.forward_calls == rounds && count.reverse_calls == rounds, "exchange calls");
    count.fail = true;
    bool rethrown = false;
    try {
        model.compute_local_exchange(5, 5, z.data(), x.data()->data(), 0, nullptr, nullptr,
                                     count);
    } catch (const std::runtime_error& e) {
        rethrown = std::string(e.what()) == "engine exchange failed";
    }
    CHECK(rethrown, "the exchange's exception is rethrown");

    // Errors.
    expect_error([&] { model.compute({}, {}); }, CONCORD_ERROR_INVALID_INPUT, "empty system",
                 "no atoms");
    expect_error([&] { model.compute({6, 1}, x); }, CONCORD_ERROR_INVALID_INPUT,
                 "atomic_numbers has 2 entries but positions has 5", "sizes");
    expect_error([&] { model.compute({6, 1, 1, 1, 16}, x); }, CONCORD_ERROR_UNKNOWN_ELEMENT,
                 "S (atom 4)", "unknown element");
    auto nan_x = x;
    nan_x[2][1] = std::nan("");
    expect_error([&] { model.compute(z, nan_x); }, CONCORD_ERROR_INVALID_INPUT,
                 "non-finite coordinate (NaN or inf) on atom 2", "NaN");
    auto close_x = x;
    close_x[1] = {0.05, 0.0, 0.0};
    expect_error([&] { model.compute(z, close_x); }, CONCORD_ERROR_OVERLAP,
                 "atoms 0 and 1 overlap", "overlap");
    try {
        model.compute(z, close_x);
    } catch (const concord::Error& e) {
        CHECK(e.atoms() == std::vector<int64_t>({0, 1}), "the overlap error names atoms 0 and 1");
    }
    try {
        model.compute(z, nan_x);
    } catch (const concord::Error& e) {
        CHECK(e.atoms() == std::vector<int64_t>({2}), "the NaN error names atom 2");
    }
    expect_error([&] { model.compute_local(3, z, x, {0, 1}, {1}); }, CONCORD_ERROR_INVALID_INPUT,
                 "pair_first has 2 entries but pair_second has 1", "pair sizes");
    expect_error([&] { model.compute_local(3, z, x, {0, 9}, {1, 0}); },
                 CONCORD_ERROR_INVALID_INPUT, "pair_first[1] = 9 is out of range", "pair range");
    expect_error([&] { model.compute_local(7, z, x); }, CONCORD_ERROR_INVALID_INPUT,
                 "n_local = 7 exceeds n_total = 5", "n_local");
    expect_error([&] { model.compute(size_t(1) << 40, z.data(), x.data()->data()); },
                 CONCORD_ERROR_INVALID_INPUT, "exceeds the limit", "absurd n");

    // One model, several threads.
    std::vector<double> energies(4, 0.0);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < energies.size(); t++) {
        threads.emplace_back([&, t] {
            for (int k = 0; k < 5; k++) energies[t] = model.compute(z, x).energy;
        });
    }
    for (auto& t : threads) t.join();
    for (double e : energies) CHECK(e == r.energy, "threads agree");

    // Optimisation (compared with the Rust API by the driver).
    concord::OptimizeOptions options;
    CHECK(options.fmax == 0.01 && options.max_steps == 500 && options.method == CONCORD_OPTIMIZE_LBFGS,
          "default options");
    options.max_steps = 10;
    concord::Optimized o = model.optimize(z, x, std::nullopt, std::nullopt, options);
    print("optimize_methane_positions", o.positions.data()->data(), 15);
    concord::OptimizeOptions precon = concord::OptimizeOptions::generated();
    CHECK(precon.fmax == 0.05 && precon.max_steps == 500 &&
              precon.method == CONCORD_OPTIMIZE_LBFGS_PRECON,
          "options of generated structures");
    precon.fmax = options.fmax;
    precon.max_steps = 10;
    const concord::Optimized pre = model.optimize(z, x, std::nullopt, std::nullopt, precon);
    print("optimize_precon_methane_positions", pre.positions.data()->data(), 15);
    double fields[7] = {static_cast<double>(o.status), o.converged ? 1.0 : 0.0,
                        static_cast<double>(o.steps), static_cast<double>(o.force_calls),
                        o.energy, o.initial_energy, o.max_force};
    print("optimize_methane_result", fields, 7);
    concord::Optimized ow =
        model.optimize(wz, wx, cell, std::array<bool, 3>{true, true, true}, options);
    print("optimize_water_periodic_positions", ow.positions.data()->data(), 9);
    concord::OptimizeOptions bad_options;
    bad_options.method = 3;
    expect_error([&] { model.optimize(z, x, std::nullopt, std::nullopt, bad_options); },
                 CONCORD_ERROR_INVALID_ARGUMENT, "options->method = 3", "bad method");
    expect_error([&] { model.optimize(z, close_x); }, CONCORD_ERROR_OVERLAP,
                 "atoms 0 and 1 overlap", "optimize overlap");
    expect_error([&] { model.optimize({6, 1}, x); }, CONCORD_ERROR_INVALID_INPUT,
                 "atomic_numbers has 2 entries but positions has 5", "optimize sizes");

    // Generation.
    std::vector<concord::Bond> bonds = {{0, 1, 1}, {0, 2, 1}, {0, 3, 1}, {0, 4, 1}};
    concord::SamplerOptions sampler;
    sampler.seed = 7;
    sampler.steps = 8;
    CHECK(!model.has_generator(), "no generator");
    expect_error([&] { model.generate(z, bonds, 2, sampler); }, CONCORD_ERROR_UNSUPPORTED,
                 "no structure generator", "generate without a generator");
    concord::Model generator(argv[3], "cpu", 64);
    CHECK(generator.has_generator(), "generator");
    auto samples = generator.generate(z, bonds, 2, sampler);
    CHECK(samples.size() == 2 && samples[0].size() == 5, "sample shapes");
    std::vector<double> flat_samples;
    for (const auto& sample : samples)
        for (const auto& p3 : sample) flat_samples.insert(flat_samples.end(), p3.begin(), p3.end());
    print("generate_methane", flat_samples.data(), flat_samples.size());
    auto relaxed = generator.generate_optimize(z, bonds, 2, sampler, options);
    std::vector<double> flat_relaxed, results;
    for (const auto& r : relaxed) {
        for (const auto& p3 : r.positions) flat_relaxed.insert(flat_relaxed.end(), p3.begin(), p3.end());
        results.insert(results.end(),
                       {static_cast<double>(r.status), r.converged ? 1.0 : 0.0,
                        static_cast<double>(r.steps), static_cast<double>(r.force_calls),
                        r.energy, r.initial_energy, r.max_force});
    }
    print("generate_optimize_methane_positions", flat_relaxed.data(), flat_relaxed.size());
    print("generate_optimize_methane_results", results.data(), results.size());
    // The pipeline: generate_optimize's samples, screened and ranked.
    auto ranked = generator.generate_structures(z, bonds, 2, sampler, options);
    CHECK(ranked.size() == 2 && ranked[0].rank + ranked[1].rank == 1, "pipeline ranks 0 and 1");
    for (size_t k = 0; k < 2; ++k) {
        CHECK(ranked[k].positions == relaxed[k].positions, "pipeline positions");
        CHECK(ranked[k].sane == concord::check_structure(z, bonds, ranked[k].positions).sane(),
              "pipeline sanity");
        CHECK(!ranked[k].relaxed || ranked[k].energy == relaxed[k].energy, "pipeline energy");
    }
    auto raw = generator.generate_structures(z, bonds, 2, sampler);
    CHECK(raw[0].positions == samples[0] && !raw[0].relaxed, "pipeline without relaxation");
    // Another model relaxes and ranks: the same samples, its energies.
    auto other = generator.generate_structures(z, bonds, 2, sampler, std::nullopt, &model);
    for (size_t k = 0; k < 2; ++k) {
        CHECK(other[k].positions == samples[k], "pipeline with a potential: the same samples");
        CHECK(other[k].energy == model.compute(z, other[k].positions).energy,
              "pipeline with a potential: its energy");
    }
    // Specified stereo: one centre of 1-fluoroethanol (C0 bonded to C1, O2, F3, H4) comes out
    // as asked in every sample (mirrored when drawn the other way).
    const std::vector<int32_t> fz = {6, 6, 8, 9, 1, 1, 1, 1, 1};
    const std::vector<concord::Bond> fb = {{0, 1, 1}, {0, 2, 1}, {0, 3, 1}, {0, 4, 1},
                                           {1, 5, 1}, {1, 6, 1}, {1, 7, 1}, {2, 8, 1}};
    for (int anticlockwise = 0; anticlockwise < 2; ++anticlockwise) {
        concord::Stereo st;
        st.centres.push_back({0, {1, 2, 3, 4}, anticlockwise});
        auto chiral = generator.generate_structures(fz, fb, 3, sampler, std::nullopt, nullptr, st);
        for (const auto& s : chiral) {
            const auto& p = s.positions;
            double u[3], v[3], w[3];
            for (int d = 0; d < 3; ++d) {
                u[d] = p[2][d] - p[1][d];
                v[d] = p[3][d] - p[1][d];
                w[d] = p[4][d] - p[1][d];
            }
            double vol = u[0] * (v[1] * w[2] - v[2] * w[1]) - u[1] * (v[0] * w[2] - v[2] * w[0]) +
                         u[2] * (v[0] * w[1] - v[1] * w[0]);
            CHECK(anticlockwise ? vol < 0 : vol > 0, "stereo: the centre as asked");
        }
    }
    concord::Stereo wrong_centre;
    wrong_centre.centres.push_back({0, {1, 2, 3, 5}, 1});
    expect_error(
        [&] { generator.generate_structures(fz, fb, 1, sampler, std::nullopt, nullptr, wrong_centre); },
                 CONCORD_ERROR_INVALID_INPUT, "not the four bonded neighbours", "stereo: bad centre");
    // Committee deviation: a model agrees with itself; two models disagree, consistently.
    concord::Deviation self_dev = concord::model_deviation({&model, &model}, z, x);
    CHECK(self_dev.max_devi_f == 0.0 && self_dev.energy == 0.0, "self deviation is zero");
    concord::Deviation dev = concord::model_deviation({&model, &generator}, z, x);
    double max_atom = 0.0;
    for (double d : dev.atom_forces) max_atom = d > max_atom ? d : max_atom;
    CHECK(dev.max_devi_f > 0.0 && dev.max_devi_f == max_atom && dev.atom_forces.size() == 5,
          "two-model deviation");
    expect_error([&] { concord::model_deviation({&model}, z, x); }, CONCORD_ERROR_INVALID_INPUT,
                 "at least 2 models", "one-model committee");
    expect_error([&] { concord::model_deviation({&model, &generator}, {6, 1}, x); },
                 CONCORD_ERROR_INVALID_INPUT, "atomic_numbers has 2 entries", "deviation sizes");
    // Structure check: the input methane is sane, a collapsed one is not.
    CHECK(concord::check_structure(z, bonds, x).sane(), "methane sane");
    std::vector<concord::Vector3> collapsed = x;
    collapsed[2] = collapsed[1];
    concord::StructureCheck bad = concord::check_structure(z, bonds, collapsed);
    CHECK(!bad.sane() && bad.first.find("unbonded atoms 1 and 2") != std::string::npos,
          ("collapsed methane: " + bad.first).c_str());
    expect_error([&] { concord::check_structure({6, 1}, bonds, x); }, CONCORD_ERROR_INVALID_INPUT,
                 "atomic_numbers has 2 entries but positions has 5", "check sizes");
    expect_error([&] { concord::check_structure(z, {{0, 7, 1}}, x); }, CONCORD_ERROR_INVALID_INPUT,
                 "bond_second[0] = 7 is out of range", "check bond range");
    expect_error([&] { generator.generate(z, bonds, 0); }, CONCORD_ERROR_INVALID_INPUT,
                 "n_samples = 0", "no samples");
    expect_error([&] { generator.generate(z, bonds, size_t(1) << 40); },
                 CONCORD_ERROR_INVALID_INPUT, "exceeds the limit", "absurd samples");
    expect_error([&] { generator.generate(z, {{0, 1, 1}, {0, 2, 1}, {0, 3, 1}}, 1); },
                 CONCORD_ERROR_INVALID_INPUT, "atom 4 (H) has no bonds", "disconnected");
    expect_error([&] { generator.generate(z, {{0, 1, 1}, {0, 2, 1}, {0, 3, 1}, {0, 9, 1}}, 1); },
                 CONCORD_ERROR_INVALID_INPUT, "bond_second[3] = 9 is out of range", "bond range");
    expect_error([&] { generator.generate({6, 1, 1, 1, 17}, bonds, 1); },
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "Cl (atom 4)", "generate unknown element");
    concord::SamplerOptions bad_sampler;
    bad_sampler.churn = -2.0;
    expect_error([&] { generator.generate(z, bonds, 1, bad_sampler); },
                 CONCORD_ERROR_INVALID_ARGUMENT, "churn = -2", "bad churn");
    expect_error([&] { generator.generate_optimize(z, bonds, 1, sampler, bad_options); },
                 CONCORD_ERROR_INVALID_ARGUMENT, "options->method = 3", "bad options");

    // One generator, several threads: the same structures as serially.
    std::vector<std::vector<std::vector<concord::Vector3>>> parallel(4);
    std::vector<std::thread> generators;
    for (size_t t = 0; t < parallel.size(); t++) {
        generators.emplace_back([&, t] { parallel[t] = generator.generate(z, bonds, 2, sampler); });
    }
    for (auto& t : generators) t.join();
    for (const auto& p : parallel) CHECK(p == samples, "concurrent generation");

    std::printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
