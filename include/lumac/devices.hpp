// lumac devices: laser (static and rate equations), Mach-Zehnder modulator, balanced homodyne
// detector, ADC and DAC, each a Params aggregate in SI units and a model (PHYSICS.md §2, §6).
#pragma once

#include "lumac/core.hpp"
#include "lumac/devices/converters.hpp"
#include "lumac/devices/detector.hpp"
#include "lumac/devices/laser.hpp"
#include "lumac/devices/modulator.hpp"
#include "lumac/devices/noise_sources.hpp"
