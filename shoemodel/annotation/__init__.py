"""Annotation: wearable-area rounds through Label Studio, and every set in FiftyOne."""
