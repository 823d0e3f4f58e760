// Registration of the lumac subcommands, one source file each (app/cmd_*.cpp).
#pragma once

#include <CLI/CLI.hpp>

namespace lumac::cli {

void register_bench(CLI::App& app);  // bench/cmd_bench.cpp
void register_config(CLI::App& app);
void register_devices(CLI::App& app);
void register_energy(CLI::App& app);
void register_enob(CLI::App& app);
void register_eval(CLI::App& app);
void register_import(CLI::App& app);
void register_infer(CLI::App& app);
void register_precision(CLI::App& app);
void register_search(CLI::App& app);
void register_sweep(CLI::App& app);
void register_trace(CLI::App& app);
void register_train(CLI::App& app);

}  // namespace lumac::cli
