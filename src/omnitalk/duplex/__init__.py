"""Full-duplex stream formats: OmniFlatten-style flattening of user and assistant streams."""
