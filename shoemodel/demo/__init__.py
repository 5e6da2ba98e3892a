"""`shoemodel demo`: a web page for `generate` (Gradio), served on 127.0.0.1 by default."""
