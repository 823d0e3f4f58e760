// lumac studies: what a researcher runs, over the levels below: settings from a preset and
// overrides, networks on hardware over seeds, circuit studies, energy reports, precision studies
// and sweeps, with their JSON and HDF5 forms.
#pragma once

#include "lumac/energy.hpp"
#include "lumac/nn.hpp"
#include "lumac/studies/circuit_study.hpp"
#include "lumac/studies/device_figures.hpp"
#include "lumac/studies/evaluation.hpp"
#include "lumac/studies/infer.hpp"
#include "lumac/studies/network.hpp"
#include "lumac/studies/network_work.hpp"
#include "lumac/studies/precision_study.hpp"
#include "lumac/studies/results.hpp"
#include "lumac/studies/search.hpp"
#include "lumac/studies/settings.hpp"
#include "lumac/studies/sweep.hpp"
#include "lumac/studies/trace_study.hpp"
#include "lumac/studies/training.hpp"
