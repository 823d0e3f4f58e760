// The whole lumac library: devices, circuits, networks, energy and studies (link lumac::lumac).
#pragma once

#include "lumac/studies.hpp"
