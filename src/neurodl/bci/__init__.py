"""Live decoding: LSL streams, online decoders, simulated devices, real BCI mappings."""
