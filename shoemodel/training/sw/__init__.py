"""SW: the shoe-wearing module (paper §3.3), a ControlNet on SD 1.5 conditioned on X_w ⊕ X_p (6 channels)."""
