"""fabgrid: an open-source Manufacturing-as-a-Service platform.

Upload a part, get DFM feedback and binding offers from a network of factories, and let the
platform arrange, plan, watch and inspect production across that network.
"""

__version__ = "0.1.0"
