// Registers the serialization proxy of ConcordForce when the plugin library is loaded, so that
// XmlSerializer handles the force in any program that links or loads the library.

#include "ConcordForce.h"
#include "ConcordForceProxy.h"
#include "openmm/serialization/SerializationProxy.h"

extern "C" __attribute__((constructor)) void registerConcordSerializationProxies() {
    OpenMM::SerializationProxy::registerProxy(typeid(ConcordPlugin::ConcordForce),
                                              new ConcordPlugin::ConcordForceProxy());
}
