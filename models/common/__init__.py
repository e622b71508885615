"""What every model shares: checkpoints (safetensors + config + body-data checksum), reports, the registry."""
