// Registers Concord's LAMMPS styles: `pair_style concord` and the `concord_generate` command.
#include "concord.h"
#include "concord_generate.h"
#include "lammps_plugin_abi.h"
#include "pair_concord.h"

using namespace LAMMPS_NS;

namespace {
Pair *make_pair(LAMMPS *lmp) { return new PairConcord(lmp); }
Command *make_generate(LAMMPS *lmp) { return new ConcordGenerate(lmp); }
}  // namespace

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc) {
  auto register_style = reinterpret_cast<lammpsplugin_regfunc>(regfunc);
  lammpsplugin_t plugin{};
  plugin.version = CONCORD_LAMMPS_VERSION;  // from the installed LAMMPS, set by CMake
  plugin.author = "Concord developers";
  plugin.handle = handle;

  plugin.style = "pair";
  plugin.name = "concord";
  plugin.info = "Concord learned potential (energies, forces, virials) v" CONCORD_VERSION;
  plugin.creator.v1 = reinterpret_cast<lammpsplugin_factory1 *>(&make_pair);
  register_style(&plugin, lmp);

  plugin.style = "command";
  plugin.name = "concord_generate";
  plugin.info = "Concord structure generator: molecules from their bond topology v" CONCORD_VERSION;
  plugin.creator.v1 = reinterpret_cast<lammpsplugin_factory1 *>(&make_generate);
  register_style(&plugin, lmp);
}
