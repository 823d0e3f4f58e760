// lumac core: units and constants, errors, config keys, counter-based random streams, the
// matrix-product kernel, HDF5 and JSON helpers.
#pragma once

#include "lumac/core/config.hpp"
#include "lumac/core/csv.hpp"
#include "lumac/core/error.hpp"
#include "lumac/core/gemm.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/core/interrupt.hpp"
#include "lumac/core/json.hpp"
#include "lumac/core/precision.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/core/units.hpp"
