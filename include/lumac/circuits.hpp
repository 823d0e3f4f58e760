// lumac circuits: the homodyne optical MAC built from the devices: photons per symbol, the noise
// budget and ENOB of a dot product (analytic and Monte Carlo), and its time-domain trace.
#pragma once

#include "lumac/circuits/circuit_params.hpp"
#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/circuits/mac_trace.hpp"
#include "lumac/circuits/system.hpp"
#include "lumac/circuits/vectors.hpp"
#include "lumac/devices.hpp"
