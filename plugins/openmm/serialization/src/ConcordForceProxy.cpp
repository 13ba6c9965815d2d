#include "ConcordForceProxy.h"

#include "ConcordForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/serialization/SerializationNode.h"

#include <memory>

namespace ConcordPlugin {

namespace {
constexpr int VERSION = 1;

/// Throws unless the model file at `path` still has the checksum it was serialised with
/// (`found` is the loaded file's; a node without a stored checksum is not checked).
void checkChecksum(const OpenMM::SerializationNode& node, const std::string& path,
                   const std::string& found) {
    if (!node.hasProperty("modelChecksum")) return;
    const std::string stored = node.getStringProperty("modelChecksum");
    if (stored == found) return;
    throw OpenMM::OpenMMException("ConcordForce: the model file " + path +
                                  " is not the one this force was serialised with (checksum " +
                                  (found.empty() ? "none" : found) + ", stored " +
                                  (stored.empty() ? "none" : stored) + ")");
}

/// The child node called `name`, or nullptr (files written before it existed lack it).
const OpenMM::SerializationNode* childOrNull(const OpenMM::SerializationNode& node,
                                             const std::string& name) {
    for (const OpenMM::SerializationNode& child : node.getChildren()) {
        if (child.getName() == name) return &child;
    }
    return nullptr;
}
}  // namespace

ConcordForceProxy::ConcordForceProxy() : OpenMM::SerializationProxy("ConcordForce") {}

void ConcordForceProxy::serialize(const void* object, OpenMM::SerializationNode& node) const {
    const ConcordForce& force = *reinterpret_cast<const ConcordForce*>(object);
    node.setIntProperty("version", VERSION);
    node.setStringProperty("modelPath", force.getModelPath());
    node.setStringProperty("modelChecksum", force.getModelChecksum());
    node.setIntProperty("precision", force.getPrecision());
    node.setStringProperty("device", force.getDevice());
    node.setBoolProperty("periodic", force.usesPeriodicBoundaryConditions());
    node.setIntProperty("forceGroup", force.getForceGroup());
    node.setStringProperty("name", force.getName());
    OpenMM::SerializationNode& particles = node.createChildNode("Particles");
    const std::vector<int>& indices = force.getParticles();
    for (size_t i = 0; i < force.getAtomicNumbers().size(); ++i) {
        OpenMM::SerializationNode& particle = particles.createChildNode("Particle");
        particle.setIntProperty("z", force.getAtomicNumbers()[i]);
        if (!indices.empty()) particle.setIntProperty("index", indices[i]);
    }
    OpenMM::SerializationNode& committee = node.createChildNode("Committee");
    for (int k = 0; k < force.getNumCommitteeModels(); ++k) {
        OpenMM::SerializationNode& member = committee.createChildNode("Model");
        member.setStringProperty("modelPath", force.getCommitteeModelPath(k));
        member.setStringProperty("modelChecksum", force.getCommitteeModelChecksum(k));
    }
}

void* ConcordForceProxy::deserialize(const OpenMM::SerializationNode& node) const {
    const int version = node.getIntProperty("version");
    if (version != VERSION) {
        throw OpenMM::OpenMMException("ConcordForce: unsupported serialization version " +
                                      std::to_string(version) + " (this plugin reads version " +
                                      std::to_string(VERSION) + ")");
    }
    std::vector<int> numbers, indices;
    for (const OpenMM::SerializationNode& particle : node.getChildNode("Particles").getChildren()) {
        numbers.push_back(particle.getIntProperty("z"));
        if (particle.hasProperty("index")) indices.push_back(particle.getIntProperty("index"));
    }
    auto force = std::make_unique<ConcordForce>(node.getStringProperty("modelPath"), numbers,
                                                node.getIntProperty("precision"),
                                                node.getStringProperty("device"));
    // The files at the stored paths must still be the models that were serialised.
    checkChecksum(node, force->getModelPath(), force->getModelChecksum());
    if (const OpenMM::SerializationNode* committee = childOrNull(node, "Committee")) {
        for (const OpenMM::SerializationNode& member : committee->getChildren()) {
            force->addCommitteeModel(member.getStringProperty("modelPath"));
            const int k = force->getNumCommitteeModels() - 1;
            checkChecksum(member, force->getCommitteeModelPath(k),
                          force->getCommitteeModelChecksum(k));
        }
    }
    force->setParticles(indices);
    force->setUsesPeriodicBoundaryConditions(node.getBoolProperty("periodic"));
    force->setForceGroup(node.getIntProperty("forceGroup"));
    force->setName(node.getStringProperty("name"));
    return force.release();
}

}  // namespace ConcordPlugin
