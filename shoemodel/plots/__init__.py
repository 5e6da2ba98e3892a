"""`shoemodel plots`: every plot of the project drawn to PNG offline (matplotlib, Agg)."""
