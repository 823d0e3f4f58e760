// lumac nn: networks (tensors, layers, models and their files, datasets, training) executed on
// the simulated hardware (noise-mode policies, analog execution) and precision learning.
#pragma once

#include "lumac/circuits.hpp"
#include "lumac/nn/analog.hpp"
#include "lumac/nn/architectures.hpp"
#include "lumac/nn/calibration.hpp"
#include "lumac/nn/dataset.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/nn/model.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/nn/noise_mode.hpp"
#include "lumac/nn/precision.hpp"
#include "lumac/nn/quantize.hpp"
#include "lumac/nn/train.hpp"
