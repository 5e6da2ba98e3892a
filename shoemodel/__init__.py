"""shoemodel: build the ShoeModel shoe-wearing dataset and train, benchmark and serve WD, LpS and SW."""

__version__ = "0.1.0"
