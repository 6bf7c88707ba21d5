"""The simulated lab: device physics, a virtual clock, instrument emulators that speak
TSP and KXCI, a PyVISA backend and a loopback TCP server. Nothing above the
instruments layer needs to know whether it talks to this or to hardware."""
