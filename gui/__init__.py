"""The labqc dashboard (PyQt6 + pyqtgraph): run control, live views fed from memory,
past results files. Start it with ``labqc gui``; nothing else imports this package."""
