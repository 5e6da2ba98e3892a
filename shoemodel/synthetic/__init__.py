"""Procedural sample with exact ground truth: the offline default data and the test bed."""

from shoemodel.synthetic.examples import ProductExample, WornExample, make_product_example, make_worn_example

__all__ = ["ProductExample", "WornExample", "make_product_example", "make_worn_example"]
