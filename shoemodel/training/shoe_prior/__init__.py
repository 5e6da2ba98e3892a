"""Training of the shoe prior on the Clothing Co-Parsing fixture photos (`shoemodel train shoe-prior`)."""
