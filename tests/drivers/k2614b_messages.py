"""Messages every 2614B driver session exchanges (expected_protocol pairs), shared by the
driver's protocol tests: the connection set-up and the outputs-off read-back."""

INIT = [
    ("localnode.prompts = 0 localnode.showerrors = 0 errorqueue.clear() format.data = format.ASCII "
     "format.asciiprecision = 9 print(localnode.linefreq)", "6.00000000e+01"),
    ("*IDN?", "Keithley Instruments Inc., Model 2614B, 4390123, 3.2.2"),
]
#: The read-back starts with a mark: replies a cut-short program still prints come before it.
OFF = ("smua.source.output = smua.OUTPUT_OFF smub.source.output = smub.OUTPUT_OFF "
       'print("labqc-mark", smua.source.output, smub.source.output)',
       "labqc-mark\t0.00000000e+00\t0.00000000e+00")
