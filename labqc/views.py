"""The views of the papers as data: plain arrays and small dataclasses the dashboard and
`labqc analyze` draw (no plotting here). One module per kind of view, all importable from here:

- labqc.histograms: conductance histograms (0.05 G0 bins; all samples, or plateaus weighted
  by duration), with an incremental :class:`Histogram` for live use; 2-D histograms of G/G0
  against V, I, time-in-cycle or pulse number; plateau-length statistics per level;
- labqc.pulse_views: per-pulse statistics of a pulse train, the lag pairs (I_i, I_i+1) and
  the polar view;
- labqc.cycling_views: endurance and retention statistics (level occupancy per cycle,
  HRS/LRS, dwell times);
- labqc.corr2d: the 2-D conductance correlation histogram.
"""
from __future__ import annotations

from labqc.corr2d import CorrelationHistogram, correlation_histogram
from labqc.cycling_views import Dwell, HrsLrs, dwell_times, hrs_lrs, level_occupancy
from labqc.histograms import (BIN_WIDTH, G_RANGE, Histogram, LevelLengths, Peak, display_max, histogram,
                              histogram_2d, histogram_peaks, plateau_histogram, plateau_lengths, time_in_cycle)
from labqc.pulse_views import PulseStats, lag_pairs, lag_spread, polar, pulse_statistics

__all__ = ["BIN_WIDTH", "G_RANGE", "Histogram", "LevelLengths", "Peak", "display_max", "histogram",
           "histogram_2d", "histogram_peaks", "plateau_histogram", "plateau_lengths", "time_in_cycle",
           "PulseStats", "lag_pairs", "lag_spread", "polar", "pulse_statistics",
           "Dwell", "HrsLrs", "dwell_times", "hrs_lrs", "level_occupancy",
           "CorrelationHistogram", "correlation_histogram"]
