#!/usr/bin/env bash
# Regenerate every file in sample_data/ from the simulator (the commands README.md lists).
# Deterministic: the same labqc version, preset and seed give the same rows.
set -euo pipefail
cd "$(dirname "$0")"
rm -f ./*.csv ./*.summary.json
run() { labqc run "$@" --no-progress > /dev/null; }
run VoltageSweep --sim bfo --seed 1 --cycles 2 --step 20 --set-compliance 5mA     -o bfo-voltage-sweep.csv
run VoltageSweep --sim ag-nanowire --seed 1 --cycles 2 --step 20 --set-compliance 400uA -o ag-voltage-sweep.csv
run CurrentSweep --sim ag-nanowire --seed 1 --cycles 2                              -o ag-current-sweep.csv
run CurrentSweep --sim bfo --seed 1 --cycles 1 --i-max 2mA --i-step 10000 --rate 90000 -o bfo-current-sweep.csv
run SetReset --sim bfo --seed 1 --cycles 3 --set-compliance 1mA                    -o bfo-set-reset.csv
run SetReset --sim ag-nanowire --seed 1 --mode program --target 1 --tolerance 0.25 -o ag-program-1G0.csv
run PulseTrain --sim bfo --seed 1 --mode reset --count 500                          -o bfo-reset-train-500.csv
run PulseTrain --sim bfo --seed 1 --mode ltp-ltd --count 30 --read-voltage 0.2      -o bfo-ltp-ltd.csv
run PulseTrain --sim ag-nanowire --seed 1 --mode set --count 50 --compliance 400uA  -o ag-set-train.csv
run Endurance --sim ag-nanowire --seed 1 --cycles 10                                 -o ag-endurance.csv
run Endurance --sim bfo --seed 1 --cycles 10 --method pulse --set-voltage 2.5 --reset-voltage -2.5 --set-compliance 5mA --pulse-width 20 -o bfo-endurance-pulse.csv
run Retention --sim ag-nanowire --seed 1 --duration 1000 --interval 10              -o ag-retention.csv
run Retention --sim bfo --seed 1 --duration 6000 --spacing log --first 1 --per-decade 10 --prepare-compliance 5mA -o bfo-retention-log.csv
run Breakdown --sim ag-nanowire-fresh --seed 1                                    -o ag-breakdown.csv
run Forming --sim bfo-fresh --seed 1                                               -o bfo-forming.csv
run ProgramToLevel --sim ag-nanowire --seed 1 --target 1 --tolerance 0.25         -o ag-program-to-level-1G0.csv
run SwitchingThreshold --sim ag-nanowire --seed 1                                 -o ag-switching-threshold.csv
run Volatility --sim ag-nanowire --seed 1                                         -o ag-volatility.csv
ls -l ./*.csv
