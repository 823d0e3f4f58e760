// lumac energy: the energy account per layer and per component, optical and electrical.
#pragma once

#include "lumac/circuits.hpp"
#include "lumac/energy/energy_model.hpp"
