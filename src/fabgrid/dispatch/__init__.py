"""Dispatch to printers: one connector module per print-host type (OctoPrint, PrusaLink, Moonraker, Bambu Lab LAN)
behind one registry (`fabgrid.dispatch.base.connector`), the printer's state turned into fabgrid machine events
(`fabgrid.dispatch.follow`), and PrusaSlicer's command line (`fabgrid.dispatch.slicer`).

An engine: talks HTTP to the hosts it is handed; never imports the store, services, entry points or fabgrid.data.
"""
