"""Costing engine: time, material, energy, price, lead time and CO2 of a part on the network.

`base` holds the registry of process models (fdm, sla, powder_bed for SLS/MJF, metal_pbf, cnc; one
module each); `price`, `energy`, `leadtime`, `postprocess` turn an estimate into money, CO2 and dates;
`quote` builds the offers over the whole network. Never imports store, services, api, web or cli.
"""
