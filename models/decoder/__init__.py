"""AvatarDecoder: attribute vectors and a seed's latent -> body shape coefficients, refined to the measurements."""
