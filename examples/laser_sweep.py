"""Accuracy and energy of the bundled Fashion-MNIST CNN against laser power, then the laser
power learned per layer at -1 point of accuracy. Run: /usr/bin/python3 examples/laser_sweep.py
(under a minute on 2 cores); writes laser_sweep.png in the current folder."""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import lumac

model = lumac.load_model(lumac.data_dir() + "/models/fmnist_cnn.h5")
sweep = lumac.sweep("laser.power_W=1e-4:1e-2:9:log", model=model, seeds=2, limit=2000,
                    progress=True)
power_mW = 1e3 * sweep.axes["laser.power_W"]
accuracy = sweep.accuracy  # (points, seeds)

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.errorbar(power_mW, accuracy.mean(axis=1), yerr=accuracy.std(axis=1), marker="o")
left.set(xscale="log", xlabel="laser power (mW)", ylabel="test accuracy")
right.plot(power_mW, sweep.detected_optical_aJ_per_mac, marker="o", label="detected optical")
right.plot(power_mW, sweep.total_aJ_per_mac, marker="s", label="total")
right.set(xscale="log", yscale="log", xlabel="laser power (mW)", ylabel="energy (aJ/MAC)")
right.legend()
fig.tight_layout()
fig.savefig("laser_sweep.png", dpi=120)

study = model.learn_precision("physical", drops=[0.01], steps=300, limit=2000, progress=True)
target = study.targets[0]
print(f"-1 point: uniform {1e3 * target['uniform']['laser_power_W']:.3g} mW, learned "
      f"{1e3 * target['learned']['laser_power_W']:.3g} mW (MAC-weighted mean)")
for layer in target["learned"]["layers"]:
    print(f"  {layer['name']}: ENOB {layer['enob']:.2f} bits")
