"""Board support: a UART host link around the SNN core, board tops, bitstreams, flashing."""
