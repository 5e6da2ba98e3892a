"""Curation: raw human photos -> person filter -> whole-body pose -> 12 keypoints -> SAM shoe masks -> shoe-leg set."""
