"""Shared test set-up: Qt offscreen, and a fresh simulated lab per test where asked."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
